// Runs the alert evaluator on each status sample and does what an alert entails:
// store it, log it, hand it to the dashboard's listeners and to each delivery
// queue. It has no timer of its own: the operations sampler calls check().
import { alertKey, type AlertRecord } from './alert.js';
import { controlIdReuseSubject } from './alert-evaluator.js';
import type { AlertDelivery, AlertDeliveryStatus } from './alert-delivery.js';
import type { AlertEvaluator, AlertInputs } from './alert-evaluator.js';
import type { AlertStore } from './alert-store.js';

/** Alerts kept at hand for the dashboard's list (its snapshot). */
export const DEFAULT_RECENT_ALERTS = 50;
/** Alerts listed as recent in GET /v1/status and in every status frame. */
export const DEFAULT_STATUS_RECENT_ALERTS = 10;

export interface AlertMonitorLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AlertMonitorOptions {
  evaluator: AlertEvaluator;
  store: AlertStore;
  deliveries: readonly AlertDelivery[];
  /** Alerts older than this are pruned, in ms. */
  retentionMs: number;
  log: AlertMonitorLogger;
  /** Default DEFAULT_RECENT_ALERTS (50). */
  recentLimit?: number;
}

/** Alerts as GET /v1/status and the dashboard show them. */
export interface AlertsStatus {
  /** Conditions firing now, oldest first. */
  active: AlertRecord[];
  /** Newest first. */
  recent: AlertRecord[];
  delivery: AlertDeliveryStatus[];
}

export class AlertMonitor {
  private readonly listeners = new Set<(alert: AlertRecord) => void>();
  private readonly latest = new Map<string, AlertRecord>();
  private recentAlerts: AlertRecord[];
  private currentKeys: Set<string> | undefined;
  private readonly recentLimit: number;

  constructor(private readonly options: AlertMonitorOptions) {
    this.recentLimit = options.recentLimit ?? DEFAULT_RECENT_ALERTS;
    for (const alert of options.store.latestPerCondition()) this.latest.set(alertKey(alert.rule, alert.subject), alert);
    this.recentAlerts = options.store.recent(this.recentLimit);
  }

  /** Evaluates one status sample taken at `nowMs`; returns the alerts it raised (stored, with ids). */
  check(inputs: AlertInputs, nowMs: number): AlertRecord[] {
    this.currentKeys = conditionKeys(inputs);
    const raised = this.options.evaluator.evaluate(inputs, nowMs).map((alert) => this.options.store.insert(alert));
    for (const alert of raised) {
      this.latest.set(alertKey(alert.rule, alert.subject), alert);
      this.recentAlerts = [alert, ...this.recentAlerts].slice(0, this.recentLimit);
      const fields = { alertId: alert.id, rule: alert.rule, subject: alert.subject, alertLevel: alert.level, value: alert.value, threshold: alert.threshold };
      if (alert.state === 'resolved') this.options.log.info(fields, `alert resolved: ${alert.message}`);
      else if (alert.severity === 'critical') this.options.log.error(fields, `alert: ${alert.message}`);
      else this.options.log.warn(fields, `alert: ${alert.message}`);
      for (const delivery of this.options.deliveries) delivery.enqueue(alert);
      for (const listener of this.listeners) listener(alert);
    }
    return raised;
  }

  /** Called with each alert once it is stored. Returns the unsubscribe function. */
  onAlert(listener: (alert: AlertRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @param recentLimit newest alerts to list; default DEFAULT_STATUS_RECENT_ALERTS (10) */
  status(recentLimit: number = DEFAULT_STATUS_RECENT_ALERTS): AlertsStatus {
    const active = [...this.latest.entries()]
      // A condition whose relay, feed or source is no longer configured is not active, whatever it last said.
      .filter(([key, alert]) => alert.level > 0 && (this.currentKeys === undefined || this.currentKeys.has(key)))
      .map(([, alert]) => alert)
      .sort((a, b) => a.id - b.id);
    return { active, recent: this.recentAlerts.slice(0, recentLimit), delivery: this.options.deliveries.map((d) => d.status()) };
  }

  /** Deletes stored alerts past the retention; returns how many. */
  prune(nowMs: number): number {
    return this.options.store.prune(nowMs - this.options.retentionMs);
  }

  /** Waits for queued deliveries to be tried (tests, shutdown), then closes the sinks. */
  async close(): Promise<void> {
    await Promise.all(this.options.deliveries.map(async (d) => {
      await d.flush();
      await d.close();
    }));
  }
}

/** The conditions the inputs can speak for: what "still configured" means. */
function conditionKeys(inputs: AlertInputs): Set<string> {
  const keys = new Set<string>();
  for (const link of inputs.links) keys.add(alertKey('link', link.relay));
  for (const feed of inputs.feeds) {
    keys.add(alertKey('lag', feed.feed));
    keys.add(alertKey('backlog-age', feed.feed));
    keys.add(alertKey('feed-integrity', feed.feed));
    keys.add(alertKey('feed-proof', feed.feed));
    if (feed.imaging) for (const rule of ['imaging-blocked', 'imaging-stalled'] as const) keys.add(alertKey(rule, feed.feed));
  }
  for (const source of inputs.sources) keys.add(alertKey('source-silent', source.name));
  for (const channel of inputs.downlink?.channels ?? []) keys.add(alertKey('inbound-quarantine', channel.channel));
  for (const source of inputs.sources) {
    if (!source.capture) continue;
    for (const rule of ['capture-stopped', 'capture-lagging', 'capture-position-lost', 'capture-wal-budget'] as const) keys.add(alertKey(rule, source.name));
  }
  for (const source of inputs.sources) {
    for (const reuse of source.controlIdReuse ?? []) keys.add(alertKey('control-id-reused', controlIdReuseSubject(source.name, reuse)));
  }
  if (inputs.disk) keys.add(alertKey('disk', inputs.disk.path));
  return keys;
}
