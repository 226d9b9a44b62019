// The relay's sinks: every stored feed event published once more, to a NATS
// JetStream stream, exactly once and in order per (hospital, feed). What the
// composition root uses is startSinks; the rest is for tests and tools.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { FeedNotifier, FeedStore } from '../store/index.js';
import { PgSinkCursorStore, type RelayDatabase } from '../store/postgres/index.js';
import { NatsJetStreamSink } from './nats-jetstream-sink.js';
import type { SinksConfig } from './sink-config.js';
import type { SinkCursorStore } from './sink-cursor-store.js';
import { registerSinkMetrics } from './sink-metrics.js';
import { SinkRunner } from './sink-runner.js';
import { sinkFeedStatus, type SinkFeedStatus } from './sink-status.js';
import { SqliteSinkCursorStore } from './sqlite-sink-cursor-store.js';

export * from './sink-config.js';
export * from './sink-cursor-store.js';
export * from './sink-publisher.js';
export * from './sink-state.js';
export * from './sink-subject.js';
export * from './sink-status.js';
export * from './errors.js';
export { FeedSink, type FeedSinkSnapshot, type FeedSinkOptions } from './feed-sink.js';
export { SinkRunner, type SinkRunnerOptions } from './sink-runner.js';
export { NatsJetStreamSink } from './nats-jetstream-sink.js';
export { SqliteSinkCursorStore } from './sqlite-sink-cursor-store.js';
export { sinkBackoffMs } from './sink-backoff.js';

export interface StartSinksOptions {
  sinks: SinksConfig;
  relayId: string;
  store: FeedStore;
  notifier: FeedNotifier;
  /** Where the sink cursors and leases are kept: relay.db, or the relay's PostgreSQL database. */
  state: { file: string } | { database: RelayDatabase };
  /** The relay's metrics registry: the sinks' gauges are added to it. */
  registry: Registry;
  logger: Logger;
  now?: () => number;
}

/** The running sinks. */
export interface Sinks {
  /** Per sink and feed, for the status page (empty without sinks). */
  status(nowMs?: number): Promise<SinkFeedStatus[]>;
  /** Stops every feed's sink after its publish in flight, lets the leases go, closes NATS and the cursor store. */
  stop(): Promise<void>;
}

/**
 * Starts every configured sink: opens the cursor store, connects to NATS in the
 * background (a NATS that is down delays publishing, never the relay's start)
 * and publishes each feed from its cursor. With no sinks configured it opens nothing.
 */
export async function startSinks(options: StartSinksOptions): Promise<Sinks> {
  if (options.sinks.length === 0) return { status: async () => [], stop: async () => {} };
  const now = options.now ?? Date.now;
  const cursors: SinkCursorStore =
    'file' in options.state ? SqliteSinkCursorStore.open({ file: options.state.file, now }) : await PgSinkCursorStore.open({ database: options.state.database, now });
  // One holder per process: a restarted relay is another holder, and waits for the killed one's lease to run out.
  const holder = `${options.relayId}/${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const runners = options.sinks.map(
    (config) =>
      new SinkRunner({
        config,
        store: options.store,
        notifier: options.notifier,
        cursors,
        publisher: new NatsJetStreamSink({ config, logger: options.logger }),
        holder,
        logger: options.logger,
        now,
      }),
  );
  try {
    for (const runner of runners) await runner.start();
  } catch (error) {
    await Promise.all(runners.map((r) => r.stop()));
    await cursors.close();
    throw error;
  }
  const status = async (nowMs = now()) =>
    Promise.all(runners.flatMap((runner) => runner.snapshots().map((snapshot) => sinkFeedStatus(options.store, snapshot, runner.connected, nowMs))));
  registerSinkMetrics(options.registry, status);
  options.logger.info({ sinks: options.sinks.map((s) => s.name), holder }, 'sinks started');
  return {
    status,
    async stop() {
      await Promise.all(runners.map((r) => r.stop()));
      await cursors.close();
    },
  };
}
export * from './sink-cursor-rows.js';
