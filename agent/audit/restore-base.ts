// The egress ledger of a restored agent (agent/exit/restore.ts) does not start at
// record 1: it continues the chain the old agent left at the relay. Its first
// record, of type 'restore', has prevHash = the head the relay last received
// (an export's ledgerHeads) and index = that head's index + 1, so the relay's
// stored heads and the new agent's batches stay one chain, and the records before
// it live only in the old agent's ledger (lost with it) and in what the relay holds.
//
// A verifier anchors such a ledger at its restore record's prevHash instead of
// the genesis hash, and says so: the chain is whole from the restore on, and
// what came before can be checked only against the relay's heads.
import type { SqliteDatabase } from '../store/index.js';
import { canonicalJson, type JsonObject } from './canonical-json.js';
import { chainNext, GENESIS_HEAD, type LedgerHead, type LedgerRecord } from './ledger-record.js';

/** The type of a ledger's first record when the agent was restored from a relay's export. */
export const RESTORE_RECORD_TYPE = 'restore';

/**
 * Writes the restore record into an empty ledger, continuing `base` (GENESIS_HEAD when the relay held no head).
 * @throws Error when the ledger already holds records.
 */
export function writeRestoreBase(db: SqliteDatabase, base: LedgerHead, details: JsonObject, atMs: number): LedgerRecord {
  const held = db.prepare('SELECT COUNT(*) FROM egress_ledger').pluck().get() as number;
  if (held > 0) throw new Error(`the egress ledger already holds ${held} records: a restore base can only start an empty ledger`);
  const record = chainNext(base, { type: RESTORE_RECORD_TYPE, feed: null, details }, atMs);
  db.prepare('INSERT INTO egress_ledger (idx, at_ms, type, feed, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
    record.index,
    record.atMs,
    record.type,
    record.feed,
    canonicalJson(record.details),
    Buffer.from(record.prevHash, 'hex'),
    Buffer.from(record.hash, 'hex'),
  );
  return record;
}

/**
 * The anchor a ledger starting with `first` is verified from: the head its restore
 * record continues, or GENESIS_HEAD for a ledger that starts at record 1 by itself.
 */
export function restoreAnchor(first: LedgerRecord | undefined): LedgerHead | undefined {
  if (!first || first.type !== RESTORE_RECORD_TYPE || first.index === 1) return undefined;
  return { index: first.index - 1, hash: first.prevHash };
}

export { GENESIS_HEAD };
