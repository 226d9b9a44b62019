// Where the relay keeps its state, chosen once from `store:` in relay.yaml:
// relay.db in dataDir (SQLite, one relay process) or one PostgreSQL database
// any number of relay processes share. The rest of the relay sees only the
// ports (FeedStore, BlobStore, InboundStore, the enrolment tokens,
// VendorCursorStore, ProcessRegistry); this is the one file that knows which
// backend stands behind them.
//
// On PostgreSQL it also runs what makes processes behave as one relay: the
// doorbell listener (a commit in one process wakes live tails in all) and the
// process registry's heartbeat (every process's status page lists them all).
//
// Failure modes handled:
//  1. A store fails to open (a locked or too-new relay.db, an unreachable or
//     too-new database): what was opened before it is closed in reverse, and
//     the error reaches the start, which fails with it.
//  2. close() runs once however often it is called, last opened first.
import type { Logger } from 'pino';
import { WARDLINE_VERSION } from '../protocol/index.js';
import type { RelayConfig } from './config.js';
import { PostgresEnrolmentTokens, SqliteEnrolmentTokens, type EnrolmentTokenStore } from './enrolment/index.js';
import { INBOUND_DOORBELL_CHANNEL, PostgresInboundStore, SqliteInboundStore, type InboundStore } from './inbound/index.js';
import {
  processIdentity,
  relayBlobDir,
  relayDatabaseFile,
  SingleProcessRegistry,
  SqliteBlobStore,
  SqliteFeedStore,
  SqliteVendorCursorStore,
  type BlobStore,
  type FeedNotifier,
  type FeedStore,
  type PostgresStoreConfig,
  type ProcessIdentity,
  type ProcessRegistry,
  type VendorCursorStore,
} from './store/index.js';
import { FeedDoorbellListener, migratePostgres, PG_MIGRATIONS, PgProcessRegistry, PgVendorCursorStore, PostgresBlobStore, PostgresFeedStore, postgresStoreUrl, RelayDatabase } from './store/postgres/index.js';

/** How the relay's connections show in pg_stat_activity.application_name. */
export const PG_APPLICATION_NAME = 'wardline-relay';

export interface OpenRelayStoresOptions {
  now: () => number;
  logger: Logger;
  /** Told of every feed advance and revocation, this process's and (PostgreSQL) every other's. */
  notifier: FeedNotifier;
}

/** The relay's stores, whichever backend; close() closes them all, last opened first. */
export interface RelayStores {
  readonly kind: 'sqlite' | 'postgres';
  readonly feeds: FeedStore;
  readonly blobs: BlobStore;
  readonly inbound: InboundStore;
  /** Present when the config has `enrolment`. */
  readonly enrolmentTokens?: EnrolmentTokenStore;
  readonly vendorCursors: VendorCursorStore;
  readonly processes: ProcessRegistry;
  /** The PostgreSQL connection (readiness, status); absent on SQLite. */
  readonly database?: RelayDatabase;
  /** The cross-process live tail (PostgreSQL only): its state and counters, for status and metrics. */
  readonly doorbell?: FeedDoorbellListener;
  close(): Promise<void>;
}

/** Opens the stores `config.store` names (failure mode 1). */
export async function openRelayStores(config: RelayConfig, options: OpenRelayStoresOptions): Promise<RelayStores> {
  const opened: (() => unknown)[] = [];
  const hold = <T>(part: T, close: (part: T) => unknown): T => {
    opened.push(() => close(part));
    return part;
  };
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      while (opened.length > 0) await opened.pop()!();
    })());
  const identity = processIdentity({ relayId: config.relayId, version: WARDLINE_VERSION, grpcListen: `${config.grpc.listen.host}:${config.grpc.listen.port}`, httpListen: `${config.http.listen.host}:${config.http.listen.port}`, startedAtMs: options.now() });
  try {
    if (config.store.kind === 'sqlite') {
      const file = relayDatabaseFile(config.dataDir);
      const { now, notifier } = options;
      const feeds = hold(SqliteFeedStore.open({ file, onAdvance: notifier.advanced, onRevoke: notifier.wake, now }), (s) => s.close());
      const blobs = hold(SqliteBlobStore.open({ file, dir: relayBlobDir(config.dataDir), now }), (s) => s.close());
      const inbound = hold(SqliteInboundStore.open({ file }), (s) => s.close());
      const enrolmentTokens = config.enrolment && hold(SqliteEnrolmentTokens.open(file, now), (s) => s.close());
      const vendorCursors = hold(SqliteVendorCursorStore.open({ file }), (s) => s.close());
      const processes = hold(new SingleProcessRegistry(identity, now), (r) => r.close());
      return { kind: 'sqlite', feeds, blobs, inbound, ...(enrolmentTokens ? { enrolmentTokens } : {}), vendorCursors, processes, close };
    }
    return await openPostgresStores(config, config.store, options, identity, hold, close);
  } catch (error) {
    await close();
    throw error;
  }
}

type Hold = <T>(part: T, close: (part: T) => unknown) => T;

async function openPostgresStores(config: RelayConfig, store: PostgresStoreConfig, options: OpenRelayStoresOptions, identity: ProcessIdentity, hold: Hold, close: () => Promise<void>): Promise<RelayStores> {
  const { now, notifier, logger } = options;
  const url = postgresStoreUrl(store);
  const database = hold(
    await RelayDatabase.connect({ url, poolMax: store.poolMax, connectTimeoutMs: store.connectTimeoutMs, applicationName: `${PG_APPLICATION_NAME} ${config.relayId}`, logger: logger.child({ part: 'database' }) }),
    (d) => d.close(),
  );
  // Advisory-locked: processes starting together apply each migration once.
  await migratePostgres(database, PG_MIGRATIONS);
  const feeds = hold(await PostgresFeedStore.open({ database, now, onAdvance: notifier.advanced, onRevoke: notifier.wake }), (s) => s.close());
  const blobs = hold(await PostgresBlobStore.open({ database, now }), (s) => s.close());
  const inbound = hold(await PostgresInboundStore.open({ database }), (s) => s.close());
  // A token issued by `wardline relay enrol-token` into the database is redeemable at any process.
  const enrolmentTokens = config.enrolment && hold(await PostgresEnrolmentTokens.open({ database, now }), (s) => s.close());
  const vendorCursors = new PgVendorCursorStore(database);
  // Other processes' commits reach this process's live tails (and inbound subscribers) through here.
  const doorbell = new FeedDoorbellListener({ database, store: feeds, pollMs: store.liveTailPollMs, logger: logger.child({ part: 'live-tail' }), channels: [{ channel: INBOUND_DOORBELL_CHANNEL, observe: (payload) => inbound.observe(payload) }] });
  hold(doorbell, (d) => d.close());
  await doorbell.start();
  const processes = hold(new PgProcessRegistry({ database, identity, heartbeatMs: store.heartbeatMs, processTimeoutMs: store.processTimeoutMs, now, logger: logger.child({ part: 'process-registry' }) }), (r) => r.close());
  return { kind: 'postgres', feeds, blobs, inbound, ...(enrolmentTokens ? { enrolmentTokens } : {}), vendorCursors, processes, database, doorbell, close };
}
