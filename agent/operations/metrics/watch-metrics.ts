// Prometheus metrics for what the operations side watches: alerts, the link's
// state by name, silent sources, lag thresholds, the host, open dashboards, and
// database sources (capture-metrics.ts), imaging feeds (imaging-metrics.ts)
// (what the journal, feeds and sources move is in agent-metrics.ts).
// Read at scrape time like agent-metrics.ts; labels carry relay, feed, source,
// rule and sink names only — never anything from a message.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AgentStatus } from '../agent-status.js';
import { ALERT_RULES, type AlertRecord, type AlertsStatus } from '../alerts/index.js';
import type { HostStatus } from '../host/index.js';
import { LINK_STATES } from '../../replication/index.js';
import { registerCaptureMetrics } from './capture-metrics.js';
import { registerImagingMetrics } from './imaging-metrics.js';

/** Link states exported one-hot, so a dashboard can colour by state. */

export interface WatchMetricsSources {
  status: () => AgentStatus;
  alerts: () => AlertsStatus;
  host: () => HostStatus;
  dashboardClients: () => number;
  /** Subscribes to alerts as they are raised. */
  onAlert: (listener: (alert: AlertRecord) => void) => void;
  clock?: () => number;
}

export function registerWatchMetrics(registry: Registry, sources: WatchMetricsSources): void {
  const clock = sources.clock ?? Date.now;
  // Registered first, so its collect hook fills every metric below from one status read.
  new Gauge({ name: 'wardline_agent_alerts_firing', help: 'Alert conditions firing now, by rule', labelNames: ['rule'], registers: [registry], collect() {
    refresh(this);
  } });
  const raised = new Counter({ name: 'wardline_agent_alerts_total', help: 'Alerts raised since the agent started, by rule and state (firing, resolved)', labelNames: ['rule', 'state'], registers: [registry] });
  const deliveries = new Counter({ name: 'wardline_agent_alert_deliveries_total', help: 'Alert deliveries by sink (webhook, syslog) and result (delivered, failed, dropped)', labelNames: ['sink', 'result'], registers: [registry] });
  const linkState = new Gauge({ name: 'wardline_agent_link_state', help: '1 for the state the link to the relay is in, 0 for the others', labelNames: ['relay', 'state'], registers: [registry] });
  const lagThreshold = new Gauge({ name: 'wardline_agent_feed_lag_threshold_seconds', help: 'Lag above which the feed raises an alert (alerts.lag)', labelNames: ['feed', 'relay'], registers: [registry] });
  const lastMessage = new Gauge({ name: 'wardline_agent_source_last_message_timestamp_seconds', help: 'When the source last received a message, seconds since the epoch', labelNames: ['source'], registers: [registry] });
  const silent = new Gauge({ name: 'wardline_agent_source_silent', help: '1 while the source has been silent longer than its quiet period (alerts.quietPeriods)', labelNames: ['source'], registers: [registry] });
  const cpu = new Gauge({ name: 'wardline_agent_host_cpu_utilization_ratio', help: 'Share of the host CPU busy over the last sample, 0-1', registers: [registry] });
  const memoryTotal = new Gauge({ name: 'wardline_agent_host_memory_total_bytes', help: 'Host memory', registers: [registry] });
  const memoryUsed = new Gauge({ name: 'wardline_agent_host_memory_used_bytes', help: 'Host memory used by processes (buffers and cache excluded)', registers: [registry] });
  const clients = new Gauge({ name: 'wardline_agent_dashboard_clients', help: 'Dashboard pages connected over the live channel', registers: [registry] });
  // Collected after the gauges above, from the status this scrape already read.
  let scraped: AgentStatus | undefined;
  registerCaptureMetrics(registry, () => (scraped ?? sources.status()).sources);
  registerImagingMetrics(registry, () => (scraped ?? sources.status()).feeds);

  for (const rule of ALERT_RULES) for (const state of ['firing', 'resolved']) raised.inc({ rule, state }, 0);
  sources.onAlert((alert) => raised.inc({ rule: alert.rule, state: alert.state }));

  function refresh(firing: Gauge): void {
    const alerts = sources.alerts();
    firing.reset();
    for (const rule of ALERT_RULES) firing.set({ rule }, alerts.active.filter((a) => a.rule === rule).length);
    deliveries.reset();
    for (const d of alerts.delivery) {
      deliveries.inc({ sink: d.sink, result: 'delivered' }, d.delivered);
      deliveries.inc({ sink: d.sink, result: 'failed' }, d.failed);
      deliveries.inc({ sink: d.sink, result: 'dropped' }, d.dropped);
    }
    const status = sources.status();
    scraped = status;
    const nowMs = clock();
    linkState.reset();
    for (const link of status.links) for (const state of LINK_STATES) linkState.set({ relay: link.relay, state }, link.state === state ? 1 : 0);
    lagThreshold.reset();
    for (const feed of status.feeds) if (feed.lagThresholdSeconds !== null) lagThreshold.set({ feed: feed.feed, relay: feed.relay }, feed.lagThresholdSeconds);
    lastMessage.reset();
    silent.reset();
    for (const source of status.sources) {
      if (source.lastMessageAtMs !== null) lastMessage.set({ source: source.name }, source.lastMessageAtMs / 1000);
      const quiet = source.quietPeriodSeconds;
      if (quiet !== null && quiet !== undefined) {
        const silentSeconds = (nowMs - (source.lastMessageAtMs ?? status.startedAtMs)) / 1000;
        silent.set({ source: source.name }, silentSeconds >= quiet ? 1 : 0);
      }
    }
    const host = sources.host();
    if (host.cpuPercent !== undefined) cpu.set(host.cpuPercent / 100);
    if (host.memoryTotalBytes !== undefined) memoryTotal.set(host.memoryTotalBytes);
    if (host.memoryUsedBytes !== undefined) memoryUsed.set(host.memoryUsedBytes);
    clients.set(sources.dashboardClients());
  }
}
