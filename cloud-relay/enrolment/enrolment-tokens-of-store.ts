// The enrolment tokens of a relay's configured store, for a tool that runs
// beside the relay (`wardline relay enrol-token`): relay.db in dataDir, or the
// PostgreSQL database every relay process shares — a token issued there is
// redeemable at any of them. The relay itself opens its stores in one place
// (cloud-relay/relay-stores.ts).
import { migratePostgres, PG_MIGRATIONS, postgresStoreUrl, RelayDatabase } from '../store/postgres/index.js';
import type { RelayConfig } from '../config.js';
import { relayDatabaseFile } from '../store/index.js';
import type { EnrolmentTokenStore } from './enrolment-token-store.js';
import { PostgresEnrolmentTokens } from './postgres-enrolment-tokens.js';
import { SqliteEnrolmentTokens } from './sqlite-enrolment-tokens.js';

export interface OpenedEnrolmentTokens {
  tokens: EnrolmentTokenStore;
  /** Where they are kept, for messages: the relay.db path or the URL without its password. */
  where: string;
  /** Closes the tokens and the connection opened for them. */
  close(): Promise<void>;
}

/**
 * Opens the tokens where the relay keeps them. SQLite: relay.db, created and
 * migrated as the relay would before its first start. PostgreSQL: one
 * connection, the schema migrated (advisory-locked, so safe beside running
 * relays; a database from a newer relay is refused).
 */
export async function openEnrolmentTokensOfStore(config: Pick<RelayConfig, 'dataDir' | 'store'>, options: { now?: () => number; applicationName?: string } = {}): Promise<OpenedEnrolmentTokens> {
  if (config.store.kind === 'sqlite') {
    const file = relayDatabaseFile(config.dataDir);
    const tokens = SqliteEnrolmentTokens.open(file, options.now);
    return { tokens, where: file, close: () => tokens.close() };
  }
  const database = await RelayDatabase.connect({
    url: postgresStoreUrl(config.store),
    poolMax: 2,
    connectTimeoutMs: config.store.connectTimeoutMs,
    applicationName: options.applicationName ?? 'wardline-relay-cli',
  });
  try {
    await migratePostgres(database, PG_MIGRATIONS);
    const tokens = await PostgresEnrolmentTokens.open({ database, now: options.now });
    return { tokens, where: database.description, close: async () => (await tokens.close(), await database.close()) };
  } catch (error) {
    await database.close();
    throw error;
  }
}
