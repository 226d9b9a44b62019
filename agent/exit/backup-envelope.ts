// The backup envelope: how one journal event travels on a backup feed. The whole
// journal row, plus what a restore needs to rebuild the store around it (the
// dedupe key the event's append claimed, a source position saved with it, the
// multi-event append it belongs to), as JSON encrypted under the hospital's
// encryption key (field-encryption.ts token). The relay holds only the token; the
// outer event says nothing but the seq and the commit time, which the relay needs
// anyway to store and order it.
//
//   outer event  {seq, stream: "backup", key: "<seq>", op: "upsert", tsMs, source: "backup",
//                 contentType: "application/vnd.wardline.backup", headers: {}, body: <token, UTF-8>}
//   envelope     {"v":1, "seq", "stream", "key", "op", "tsMs", "source", "contentType",
//                 "body": <base64>, "headers", "dedupe"?, "positions"?, "transaction"?}
//
// Failure modes handled:
//  1. A token under a key the keyring does not hold, or under another key with the
//     same id (a keyring that is not the hospital's): RestoreWrongKeysError naming
//     the key id, raised before the restore writes anything.
//  2. An envelope whose seq differs from the outer event's (an event moved to another
//     seq at the relay): the token still authenticates, so the seq inside is checked.
//  3. Not a token, not JSON, a member missing or of the wrong type: RestoreExportUnusableError.
import { decryptField, encryptField, FieldDecryptError, PolicyErrorCode, tokenKeyId, type HospitalKey, type KeyLookup } from '../policy/index.js';
import type { JournalEvent } from '../../protocol/index.js';
import { RestoreExportUnusableError, RestoreWrongKeysError } from './errors.js';

export const BACKUP_STREAM = 'backup';
export const BACKUP_SOURCE = 'backup';
export const BACKUP_CONTENT_TYPE = 'application/vnd.wardline.backup';
export const BACKUP_ENVELOPE_VERSION = 1;

/** The dedupe key an append claimed; carried on its first event. */
export interface BackupDedupeKey {
  scope: string;
  id: string;
  /** '' for a key without a content digest. */
  digest: string;
  eventCount: number;
  receivedAtMs: number;
}

/** A source position saved with the append that ended at this event. */
export interface BackupPosition {
  source: string;
  position: string;
  updatedAtMs: number;
}

/** One journaled event and what restore rebuilds around it. */
export interface BackupRecord {
  event: JournalEvent;
  dedupe?: BackupDedupeKey;
  /** Source positions saved when this event was the journal's last (normally one: its append's). */
  positions?: BackupPosition[];
  /** The multi-event append this event begins (journal_transactions), carried on its first event. */
  transaction?: { firstSeq: number; lastSeq: number };
}

/** The event that leaves on a backup feed for `record`: its envelope encrypted under `key`. */
export function sealBackupRecord(record: BackupRecord, key: HospitalKey): JournalEvent {
  const { event } = record;
  const envelope = {
    v: BACKUP_ENVELOPE_VERSION,
    seq: event.seq,
    stream: event.stream,
    key: event.key,
    op: event.op,
    tsMs: event.tsMs,
    source: event.source,
    contentType: event.contentType,
    body: event.body.toString('base64'),
    headers: event.headers,
    ...(record.dedupe ? { dedupe: record.dedupe } : {}),
    ...(record.positions ? { positions: record.positions } : {}),
    ...(record.transaction ? { transaction: record.transaction } : {}),
  };
  return {
    seq: event.seq,
    stream: BACKUP_STREAM,
    key: String(event.seq),
    op: 'upsert',
    tsMs: event.tsMs,
    source: BACKUP_SOURCE,
    contentType: BACKUP_CONTENT_TYPE,
    headers: {},
    body: Buffer.from(encryptField(key, JSON.stringify(envelope)), 'utf8'),
  };
}

/**
 * The record a backup feed's event carries, decrypted with `keys`.
 * @throws RestoreWrongKeysError when the keyring cannot decrypt it; RestoreExportUnusableError when it is no envelope.
 */
export function openBackupEvent(outer: JournalEvent, keys: KeyLookup): BackupRecord {
  const token = outer.body.toString('utf8');
  if (outer.contentType !== BACKUP_CONTENT_TYPE) throw unusable(outer.seq, `has content type ${JSON.stringify(outer.contentType)}, not ${BACKUP_CONTENT_TYPE}`);
  const keyId = tokenKeyId(token);
  if (keyId === undefined) throw unusable(outer.seq, 'is not an encrypted envelope');
  let text: string;
  try {
    text = decryptField(token, keys);
  } catch (error) {
    if (!(error instanceof FieldDecryptError)) throw error;
    if (error.code === PolicyErrorCode.KEY_UNKNOWN) throw new RestoreWrongKeysError(keyId, outer.seq, 'the keyring in keys.dir does not hold', { cause: error });
    if (error.code === PolicyErrorCode.DECRYPT_FAILED) throw new RestoreWrongKeysError(keyId, outer.seq, 'does not decrypt with the key of that id in keys.dir (another keyring, or an altered event)', { cause: error });
    throw unusable(outer.seq, error.message, error);
  }
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw unusable(outer.seq, 'decrypts to text that is not JSON', error);
  }
  if (e === null || typeof e !== 'object' || e.v !== BACKUP_ENVELOPE_VERSION) throw unusable(outer.seq, `is not a version ${BACKUP_ENVELOPE_VERSION} backup envelope`);
  if (e.seq !== outer.seq) throw unusable(outer.seq, `holds the event of seq ${String(e.seq)}: it was moved at the relay`);
  const strings = ['stream', 'key', 'source', 'contentType', 'body'] as const;
  for (const name of strings) if (typeof e[name] !== 'string') throw unusable(outer.seq, `has no string "${name}"`);
  if (e.op !== 'upsert' && e.op !== 'delete') throw unusable(outer.seq, `has op ${JSON.stringify(e.op)}`);
  if (!Number.isSafeInteger(e.tsMs)) throw unusable(outer.seq, 'has no integer "tsMs"');
  const headers = e.headers;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw unusable(outer.seq, 'has headers that are not an object of strings');
  }
  const record: BackupRecord = {
    event: {
      seq: outer.seq,
      stream: e.stream as string,
      key: e.key as string,
      op: e.op,
      tsMs: e.tsMs as number,
      source: e.source as string,
      contentType: e.contentType as string,
      body: Buffer.from(e.body as string, 'base64'),
      headers: headers as Record<string, string>,
    },
  };
  if (e.dedupe !== undefined) record.dedupe = e.dedupe as BackupDedupeKey;
  if (e.positions !== undefined) record.positions = e.positions as BackupPosition[];
  if (e.transaction !== undefined) record.transaction = e.transaction as { firstSeq: number; lastSeq: number };
  return record;
}

function unusable(seq: number, problem: string, cause?: unknown): RestoreExportUnusableError {
  return new RestoreExportUnusableError(`the backup feed's event ${seq} ${problem}: nothing was restored`, cause === undefined ? undefined : { cause });
}
