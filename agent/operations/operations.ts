// The operations side of the agent's composition root, in its own file so
// main.ts stays a list of parts: alerts (evaluator, store, sinks),
// the dashboard (host sampler, history, link timeline, live hub, page routes),
// the login, readiness, and their metrics. Everything here is built from the
// config main.ts read and from the running parts it hands over.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentStatus, AgentStatusInputs, SourceStatus } from './agent-status.js';
import type { LoadedAgentConfig } from '../config.js';
import {
  AlertDelivery,
  AlertEvaluator,
  AlertMonitor,
  AlertStore,
  DEFAULT_RECENT_ALERTS,
  alertSinks,
  lagThresholdSeconds,
  type AlertsStatus,
} from './alerts/index.js';
import {
  DashboardAssets,
  DashboardHub,
  LinkHistory,
  linkTimeline,
  MetricHistory,
  StatusSampler,
  TIMELINE_SPAN_MS,
} from './dashboard/index.js';
import { HostSampler, SystemInformationHostProbe, type HostProbe } from './host/index.js';
import { checkReadiness, type ReadinessCheck } from '../../runtime/index.js';
import { timetableOf } from '../bandwidth/index.js';
import { AdminAuth } from '../http/index.js';
import { OperatorRoutes } from '../http/index.js';
import { registerWatchMetrics } from './metrics/index.js';
import type { LinkStateMachine } from '../replication/index.js';
import type { FeedFlowTotals, SqliteDatabase } from '../store/index.js';

/** Link history is kept a little longer than the timeline shows, in ms. */
const LINK_HISTORY_KEEP_MS = TIMELINE_SPAN_MS + 60 * 60 * 1000;

export interface OperationsOptions {
  config: LoadedAgentConfig;
  db: SqliteDatabase;
  agentId: string;
  /** ms since the epoch: silence of a source that never sent anything counts from here. */
  startedAtMs: number;
  /** Each relay's link state machine, subscribed to before the replicators start. */
  links: readonly { relay: string; link: LinkStateMachine }[];
  log: Logger;
  /** Default SystemInformationHostProbe. */
  hostProbe?: HostProbe;
  /** Default the sampler's DEFAULT_SAMPLE_INTERVAL_MS (1 000). */
  sampleIntervalMs?: number;
  clock?: () => number;
}

/** What main.ts wires in: the routes for the HTTP server, the figures for the status, and start/stop. */
export interface Operations {
  routes: OperatorRoutes;
  alertsStatus: () => AlertsStatus;
  thresholds: NonNullable<AgentStatusInputs['thresholds']>;
  /** Starts sampling once the status can be assembled; registers the metrics. */
  start(parts: { status: () => AgentStatus; flow: (feed: string) => FeedFlowTotals; sources: () => SourceStatus[]; metrics: Registry }): void;
  stop(): Promise<void>;
}

export function createOperations(options: OperationsOptions): Operations {
  const { config, db, log } = options;
  const clock = options.clock ?? Date.now;

  const credentials = config.adminCredentials;
  if (!credentials) {
    const listen = `${config.http.listen.host}:${config.http.listen.port}`;
    log.warn(
      { listen },
      `http.admin is not configured: the dashboard and the admin endpoints (reconnect, pause, resume, revoke, reenable) are open to anyone who can reach ${listen}; a revoke makes the relay delete the feed's data, and any web page opened in a browser that can reach ${listen} can try to trigger it; set http.admin in ${config.file}`,
    );
  }
  if (!config.httpTls && !['127.0.0.1', '::1', 'localhost'].includes(config.http.listen.host)) {
    log.warn(
      { listen: `${config.http.listen.host}:${config.http.listen.port}` },
      `http.tls is not configured: the dashboard password, the session cookie and patient records cross the network in clear; set http.tls (certFile, keyFile) in ${config.file}`,
    );
  }
  const auth = new AdminAuth({ credentials, clock });

  const store = new AlertStore(db);
  const deliveries: AlertDelivery[] = [];
  const alertLog = log.child({ part: 'alerts' });
  const sinks = alertSinks({ alerts: config.alerts, secrets: config.alertSecrets, agent: { hospital: config.hospital.id, agentId: options.agentId }, hostname: hostname(), pid: process.pid });
  for (const sink of sinks) deliveries.push(new AlertDelivery(sink, alertLog, clock));
  const monitor = new AlertMonitor({
    evaluator: new AlertEvaluator({ config: config.alerts, watchingSinceMs: options.startedAtMs, restoredLevels: store.lastLevels() }),
    store,
    deliveries,
    retentionMs: config.alerts.retention,
    log: alertLog,
  });

  // The schedule the dashboard shows, with the zone the uplink applies it in.
  const timetable = timetableOf(config.bandwidth);
  const history = new MetricHistory();
  const host = new HostSampler({ probe: options.hostProbe ?? new SystemInformationHostProbe(), clock });
  const linkHistory = new LinkHistory(db);
  let status: (() => AgentStatus) | undefined;

  const hub = new DashboardHub({
    log,
    snapshot: ({ admin }) => {
      // The HTTP port opens a moment before sampling starts; the page retries.
      if (!status) throw new Error('the agent is still starting');
      const nowMs = clock();
      const from = nowMs - TIMELINE_SPAN_MS;
      const current = status();
      return {
        nowMs,
        context: {
          admin,
          loginRequired: auth.required,
          schedule: { timezone: timetable.timeZone, windows: timetable.windows },
        },
        status: { ...current, alerts: monitor.status() },
        host: host.status(),
        history: history.series(),
        timelines: Object.fromEntries(options.links.map(({ relay }) => [relay, linkTimeline(linkHistory.since(relay, from), from, nowMs)])),
        alerts: monitor.status(DEFAULT_RECENT_ALERTS).recent,
      };
    },
  });
  monitor.onAlert((alert) => hub.publish({ type: 'alert', alert }));
  for (const { relay, link } of options.links) {
    link.subscribe((t) => {
      // A failure to keep history must never disturb the link itself.
      try {
        linkHistory.record({ relay, atMs: t.atMs, state: t.to, reason: t.reason });
      } catch (error) {
        log.warn({ err: error, relay }, 'cannot record the link state change for the dashboard timeline');
      }
      hub.publish({ type: 'link', relay, atMs: t.atMs, state: t.to, reason: t.reason });
    });
  }

  const journalAnswers = db.prepare('SELECT 1');
  let sources: (() => SourceStatus[]) | undefined;
  const readinessChecks = (): ReadinessCheck[] => [
    { name: 'journal', check: () => (db.open && journalAnswers.get() !== undefined ? null : 'the journal database is closed') },
    ...(sources?.() ?? []).map((s) => ({ name: `source ${s.name}`, check: () => sourceReadiness(s) })),
  ];

  const routes = new OperatorRoutes({
    auth,
    hub,
    assets: DashboardAssets.load(),
    readiness: () => checkReadiness(readinessChecks()),
    hospitalName: config.hospital.name || config.hospital.id,
    log,
  });

  let sampler: StatusSampler | undefined;
  return {
    routes,
    alertsStatus: () => monitor.status(),
    thresholds: {
      lagSeconds: (feed) => lagThresholdSeconds(config.alerts, feed),
      quietPeriodSeconds: (source) => {
        const ms = config.alerts.quietPeriods[source];
        return ms === undefined ? null : ms / 1000;
      },
    },
    start(parts) {
      status = parts.status;
      sources = parts.sources;
      registerWatchMetrics(parts.metrics, {
        status: parts.status,
        alerts: () => monitor.status(),
        host: () => host.status(),
        dashboardClients: () => hub.size,
        onAlert: (listener) => monitor.onAlert(listener),
        clock,
      });
      host.start();
      sampler = new StatusSampler({
        status: parts.status,
        flow: parts.flow,
        host: () => host.status(),
        history,
        alerts: monitor,
        publish: (frame) => hub.publish(frame, { droppable: true }),
        maintenance: (nowMs) => {
          monitor.prune(nowMs);
          linkHistory.prune(nowMs - LINK_HISTORY_KEEP_MS);
        },
        intervalMs: options.sampleIntervalMs,
        clock,
        log,
      });
      sampler.start();
    },
    async stop() {
      sampler?.stop();
      await host.stop();
      await monitor.close();
    },
  };
}

/**
 * Capture states in which a database source does its work: copying, streaming, behind
 * but catching up, or paused by the disk budget (the disk has its own alerts, as an
 * MLLP listener refusing for it still counts as listening).
 */
const CAPTURE_READY_STATES: ReadonlySet<string> = new Set(['snapshotting', 'streaming', 'lagging', 'paused']);

/** Why a source is not ready, or null: a listener must listen; a database source must be capturing. */
export function sourceReadiness(source: SourceStatus): string | null {
  if (source.capture) {
    if (CAPTURE_READY_STATES.has(source.capture.state)) return null;
    return `not capturing (${source.capture.state}${source.capture.reason ? `: ${source.capture.reason}` : ''})`;
  }
  return source.state === 'listening' ? null : `not listening (${source.state})`;
}
