// Prometheus metrics of the sinks, read from their status at scrape time.
// Labels: sink, hospital and feed names only.
import { Gauge, type Registry } from 'prom-client';
import { SINK_STATES } from './sink-state.js';
import type { SinkFeedStatus } from './sink-status.js';

export function registerSinkMetrics(registry: Registry, status: () => Promise<SinkFeedStatus[]>): void {
  let pending: Promise<void> | undefined;
  const refreshOnce = (): Promise<void> => (pending ??= refresh().finally(() => (pending = undefined)));
  const labelNames = ['sink', 'hospital', 'feed'] as const;
  const gauge = (name: string, help: string, extra: readonly string[] = []) => new Gauge({ name, help, labelNames: [...labelNames, ...extra], registers: [registry], collect: refreshOnce });
  const published = gauge('wardline_relay_sink_published_seq', 'The last seq of the feed the sink has published (acked by JetStream)');
  const lagEvents = gauge('wardline_relay_sink_lag_events', 'Events stored that the sink has not yet published (counted up to 100000)');
  const lagSeconds = gauge('wardline_relay_sink_lag_seconds', 'How long the oldest event the sink has not yet published has waited at the relay');
  const messages = gauge('wardline_relay_sink_published_events', 'Events the sink published since this process started');
  const errors = gauge('wardline_relay_sink_publish_errors', 'Failed publishes or stream reads since this process started');
  const reconciles = gauge('wardline_relay_sink_reconciles', 'Times the sink read the subject\'s last message to learn what the stream holds');
  const state = gauge('wardline_relay_sink_state', 'The feed sink\'s state: 1 for the current one', ['state']);
  const connected = new Gauge({ name: 'wardline_relay_sink_connected', help: '1 while the sink is connected to NATS', labelNames: ['sink'], registers: [registry], collect: refreshOnce });

  async function refresh(): Promise<void> {
    const feeds = await status();
    for (const g of [published, lagEvents, lagSeconds, messages, errors, reconciles, state, connected]) g.reset();
    for (const f of feeds) {
      const labels = { sink: f.sink, hospital: f.hospital, feed: f.feed };
      if (f.publishedSeq !== null) published.set(labels, f.publishedSeq);
      lagEvents.set(labels, f.lagEvents);
      lagSeconds.set(labels, f.lagSeconds);
      messages.set(labels, f.published);
      errors.set(labels, f.publishErrors);
      reconciles.set(labels, f.reconciles);
      for (const s of SINK_STATES) state.set({ ...labels, state: s }, s === f.state ? 1 : 0);
      connected.set({ sink: f.sink }, f.connected ? 1 : 0);
    }
  }
}
