// Where the relay keeps its state: `relay.db` inside the config's dataDir (the
// embedded default, one relay process), or one PostgreSQL database shared by any
// number of relay processes (`store: { kind: postgres, … }` in relay.yaml).
import { join } from 'node:path';
import { z } from 'zod';

/** The relay's SQLite file inside `dataDir`. */
export const RELAY_DB_FILE = 'relay.db';

/** The database file of a relay whose dataDir is `dataDir`. */
export function relayDatabaseFile(dataDir: string): string {
  return join(dataDir, RELAY_DB_FILE);
}

/** Connections one relay process holds open to PostgreSQL (ingest, vendor reads, the live-tail listener takes one more). */
export const DEFAULT_PG_POOL_MAX = 10;
/** How long opening a PostgreSQL connection may take before it counts as a failure, in milliseconds. */
export const DEFAULT_PG_CONNECT_TIMEOUT_MS = 5_000;
/** How often a relay process writes its heartbeat row, in milliseconds. */
export const DEFAULT_PROCESS_HEARTBEAT_MS = 2_000;
/** A process whose heartbeat is older than this is shown as gone and its leases may be taken over, in milliseconds. */
export const DEFAULT_PROCESS_TIMEOUT_MS = 10_000;
/** How often live tails re-read the feeds' marks in case a notification was lost, in milliseconds. */
export const DEFAULT_LIVE_TAIL_POLL_MS = 1_000;

const SqliteStoreSchema = z.strictObject({
  kind: z.literal('sqlite'),
});

const PostgresStoreSchema = z
  .strictObject({
    kind: z.literal('postgres'),
    /** postgres://user[:password]@host[:port]/database[?sslmode=…]; prefer urlFile when it holds a password. */
    url: z.string().min(1).optional(),
    /** A file holding the URL (trailing newline ignored); relative to the config file. Checked like the other secret files. */
    urlFile: z.string().min(1).optional(),
    /** Connections this process keeps in its pool. Default DEFAULT_PG_POOL_MAX. */
    poolMax: z.number().int().min(2).max(500).default(DEFAULT_PG_POOL_MAX),
    connectTimeoutMs: z.number().int().positive().default(DEFAULT_PG_CONNECT_TIMEOUT_MS),
    heartbeatMs: z.number().int().positive().default(DEFAULT_PROCESS_HEARTBEAT_MS),
    processTimeoutMs: z.number().int().positive().default(DEFAULT_PROCESS_TIMEOUT_MS),
    liveTailPollMs: z.number().int().positive().default(DEFAULT_LIVE_TAIL_POLL_MS),
  })
  .superRefine((store, ctx) => {
    if (store.url === undefined && store.urlFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'expected url or urlFile (postgres://user@host:5432/database)' });
    } else if (store.url !== undefined && store.urlFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['urlFile'], message: 'give url or urlFile, not both' });
    }
    if (store.url !== undefined && !/^postgres(ql)?:\/\//.test(store.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'expected a postgres:// or postgresql:// URL' });
    }
    if (store.heartbeatMs * 2 > store.processTimeoutMs) {
      ctx.addIssue({ code: 'custom', path: ['processTimeoutMs'], message: `expected at least twice heartbeatMs (${store.heartbeatMs}), so one late heartbeat does not count a live process as gone` });
    }
  });

/** The `store` section of relay.yaml; absent = `{ kind: sqlite }` (relay.db in dataDir). */
export const StoreConfigSchema = z.discriminatedUnion('kind', [SqliteStoreSchema, PostgresStoreSchema]);
export type StoreConfig = z.infer<typeof StoreConfigSchema>;
export type PostgresStoreConfig = Extract<StoreConfig, { kind: 'postgres' }>;
