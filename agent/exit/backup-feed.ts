// The config rules of a backup feed (`feeds[].backup: true`) and the sealers the
// composition root hands its pump. A backup feed carries every stream whole
// (but localOnly.streams, which no feed may send, encrypted or not), so
// the only thing that shapes it is the hospital's encryption key: it takes no
// streams list and no policy, and it needs keys.dir with an active encryption key.
import { ConfigError, type SecretFilePermissions } from '../../runtime/index.js';
import { loadKeyring, PolicyKeyError, type HospitalKey } from '../policy/index.js';
import type { SqliteDatabase } from '../store/index.js';
import { JournalBackupSealer } from './backup-sealer.js';

/** A feed entry as the config schema gives it. */
export interface BackupFeedEntry {
  name: string;
  streams: readonly string[];
  backup: boolean;
  policy?: unknown;
}

/** Problems of one feed entry, with paths below feeds[i]; none for a valid one (backup or not). */
export function backupFeedIssues(feed: BackupFeedEntry, hasKeys: boolean): { path: (string | number)[]; message: string }[] {
  if (!feed.backup) {
    return feed.streams.length === 0 ? [{ path: ['streams'], message: 'expected at least one stream (only a feed with backup: true carries every stream)' }] : [];
  }
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (feed.streams.length > 0) issues.push({ path: ['streams'], message: 'remove it: a backup feed carries every stream' });
  if (feed.policy !== undefined) issues.push({ path: ['policy'], message: 'remove it: a backup feed sends every event whole, encrypted under the hospital key; it takes no policy rules' });
  if (!hasKeys) issues.push({ path: ['backup'], message: 'a backup feed needs keys.dir with an encryption key (run `wardline keys rotate --kind encryption --config` with this config file)' });
  return issues;
}

export interface BackupSealersConfig {
  file: string;
  feeds: readonly BackupFeedEntry[];
  keys?: { dir: string; retainRetired: number };
  secretFilePermissions?: SecretFilePermissions;
}

/**
 * The hospital's active encryption key when the config has a backup feed; undefined when it has none.
 * Called at start before anything opens, so a missing key stops the agent there.
 * @throws ConfigError naming feeds[i].backup when there is no active encryption key.
 */
export function backupFeedKey(config: BackupSealersConfig, nowMs = Date.now()): HospitalKey | undefined {
  const index = config.feeds.findIndex((f) => f.backup);
  if (index < 0) return undefined;
  let key: HospitalKey | undefined;
  try {
    key = config.keys && loadKeyring(config.keys.dir, { retainRetiredMs: config.keys.retainRetired, nowMs, secretFilePermissions: config.secretFilePermissions }).active.encryption;
  } catch (error) {
    if (!(error instanceof PolicyKeyError)) throw error;
    const problem = `keys.dir: ${error.message} [${error.code}] (${config.file})`;
    throw new ConfigError(`invalid config:\n  ${problem}`, config.file, [problem], { cause: error });
  }
  if (!key) {
    const problem = `feeds[${index}].backup: there is no active encryption key in keys.dir: run \`wardline keys rotate --kind encryption --config\` with this config file (${config.file})`;
    throw new ConfigError(`invalid config:\n  ${problem}`, config.file, [problem]);
  }
  return key;
}

/** A sealer for each backup feed, by feed name, sealing with `key` (from backupFeedKey); events of `localOnlyStreams` never leave. */
export function backupSealers(feeds: readonly BackupFeedEntry[], db: SqliteDatabase, key: HospitalKey | undefined, localOnlyStreams: readonly string[] = []): Map<string, JournalBackupSealer> {
  const sealers = new Map<string, JournalBackupSealer>();
  if (key) for (const feed of feeds) if (feed.backup) sealers.set(feed.name, new JournalBackupSealer(db, key, new Set(localOnlyStreams)));
  return sealers;
}
