// `wardline relay migrate-store -c relay.yaml --from sqlite --to postgres [--url …]`:
// copies a stopped relay's relay.db and chunk files into an empty PostgreSQL
// database (the config's store section, or --url / --url-file), printing the
// digest of both sides (per table: rows and SHA-256). The relay's signing key
// and TLS files stay in dataDir: start the relay on PostgreSQL with the same
// dataDir. Exits 0 when the digests match, 1 when they differ (do not switch),
// 2 when refused (relay running, target not empty, schema mismatch, damaged chunk).
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import {
  DEFAULT_COPY_BATCH_ROWS,
  formatDigest,
  loadRelayConfig,
  migrateStoreToPostgres,
  postgresStoreUrl,
  RelayDatabase,
  RelayErrorCode,
  relayBlobDir,
  relayDatabaseFile,
  StoreMigrationError,
  type StoreMigrationProgress,
} from '../cloud-relay/index.js';

export interface RelayMigrateStoreOptions {
  config: string;
  from: string;
  to: string;
  /** postgres://…; default the config's store.url / store.urlFile. */
  url?: string;
  urlFile?: string;
  batchRows?: number;
}

export async function relayMigrateStoreCommand(options: RelayMigrateStoreOptions, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  if (options.from !== 'sqlite') throw new InvalidArgumentError(`--from: only "sqlite" is supported, got "${options.from}"`);
  if (options.to !== 'postgres') throw new InvalidArgumentError(`--to: only "postgres" is supported, got "${options.to}"`);
  if (options.url !== undefined && options.urlFile !== undefined) throw new InvalidArgumentError('give --url or --url-file, not both');
  const config = loadRelayConfig(options.config);
  const url = targetUrl(options, config.store);
  const sqliteFile = relayDatabaseFile(config.dataDir);
  const database = await RelayDatabase.connect({ url, poolMax: 2, connectTimeoutMs: 10_000, applicationName: 'wardline-migrate-store' });
  process.stderr.write(`migrating ${sqliteFile} (and ${relayBlobDir(config.dataDir)}) into ${database.description}\n`);
  try {
    await migrateStoreToPostgres({
      sqliteFile,
      blobDir: relayBlobDir(config.dataDir),
      database,
      batchRows: options.batchRows ?? DEFAULT_COPY_BATCH_ROWS,
      onProgress: (event) => report(event, write),
    });
  } catch (error) {
    if (!(error instanceof StoreMigrationError)) throw error;
    process.stderr.write(`wardline: [${error.code}] ${error.message}\n`);
    return error.code === RelayErrorCode.MIGRATE_DIGEST_MISMATCH ? 1 : 2;
  } finally {
    await database.close();
  }
  write(`digests match: relay.db and ${database.description} hold the same rows.\n`);
  if (config.store.kind !== 'postgres') write(`next: set store: { kind: postgres, urlFile: … } in ${options.config}, then start the relay with the same dataDir.\n`);
  else write(`next: start the relay (${options.config} already names this database); keep relay.db until it serves as before.\n`);
  return 0;
}

function report(event: StoreMigrationProgress, write: (text: string) => void): void {
  const seconds = (event.elapsedMs / 1000).toFixed(1);
  switch (event.kind) {
    case 'digest-before':
      write(`digest of relay.db (${seconds} s):\n${formatDigest(event.digest)}`);
      break;
    case 'table-copied':
      process.stderr.write(`  copied ${event.table}: ${event.rows} rows in ${seconds} s\n`);
      break;
    case 'committed':
      process.stderr.write(`committed ${event.rows} rows in ${seconds} s\n`);
      break;
    case 'digest-after':
      write(`digest of PostgreSQL (${seconds} s):\n${formatDigest(event.digest)}`);
      break;
  }
}

function targetUrl(options: RelayMigrateStoreOptions, store: ReturnType<typeof loadRelayConfig>['store']): string {
  if (options.url !== undefined) return options.url;
  if (options.urlFile !== undefined) return readFileSync(options.urlFile, 'utf8').trim();
  if (store.kind === 'postgres') return postgresStoreUrl(store);
  throw new InvalidArgumentError(`${options.config} has store: sqlite; name the target with --url or --url-file, or set store: { kind: postgres, url|urlFile } (the relay needs it there to start on PostgreSQL)`);
}
