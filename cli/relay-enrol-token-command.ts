// `wardline relay enrol-token`: issues a one-time enrolment token for a hospital,
// stored hashed where the relay keeps its state (relay.db, or the PostgreSQL
// database of `store:`); printed once.
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { loadRelayConfig, RELAY_DB_FILE } from '../cloud-relay/index.js';
import { DEFAULT_ENROLMENT_TOKEN_TTL_MS, openEnrolmentTokensOfStore, type OpenedEnrolmentTokens } from '../cloud-relay/index.js';
import { ConfigError, parseDuration } from '../runtime/index.js';

export async function relayEnrolTokenCommand(options: { config: string; hospital: string; ttl?: string; json?: boolean }): Promise<number> {
  const config = loadRelayConfig(options.config);
  if (!config.hospitals.some((h) => h.id === options.hospital)) {
    throw new InvalidArgumentError(`--hospital: "${options.hospital}" is not in hospitals[] of ${options.config}; add it first`);
  }
  if (!config.enrolment) process.stderr.write(`warning: ${options.config} has no enrolment.caDir; the relay will not answer POST /v1/enrol until it does\n`);
  const ttlMs = options.ttl === undefined ? DEFAULT_ENROLMENT_TOKEN_TTL_MS : parseDuration(options.ttl);
  if (ttlMs === undefined || ttlMs <= 0) throw new InvalidArgumentError(`--ttl: expected a duration such as 24h, got "${options.ttl}"`);
  let opened: OpenedEnrolmentTokens;
  try {
    // Before the relay's first start this creates dataDir and relay.db (or the PostgreSQL schema) as the relay would.
    opened = await openEnrolmentTokensOfStore(config);
  } catch (cause) {
    const problem =
      config.store.kind === 'sqlite'
        ? `dataDir: cannot open the relay database ${join(config.dataDir, RELAY_DB_FILE)}: ${(cause as Error).message}; check that dataDir is a directory this user may write`
        : `store: cannot open the relay's PostgreSQL database: ${(cause as Error).message}; check store.url (or store.urlFile) and that the server is up`;
    throw new ConfigError(`invalid config:\n  ${problem} (${options.config})`, options.config, [problem], { cause });
  }
  try {
    const issued = await opened.tokens.issue(options.hospital, ttlMs);
    process.stdout.write(options.json ? `${JSON.stringify(issued)}\n` : `${issued.token}\n`);
    if (!options.json) process.stderr.write(`one-time enrolment token for hospital "${issued.hospital}", valid until ${issued.expiresAt}\n`);
  } finally {
    await opened.close();
  }
  return 0;
}
