// The egress ledger: every batch that leaves the agent, and every
// administrative action on what leaves, as an append-only, hash-chained table
// in agent.db. The chain logic is in ledger-record.ts and chain-verifier.ts;
// this file only stores and reads.
//
// Why a table in agent.db rather than a file of its own: a record must be
// durable before its batch is handed to the transport, and agent.db already
// fsyncs every commit (WAL, synchronous=FULL); one file is one thing to back up
// and the disk budget already watches it; and SQLite's write lock lets another
// process (a CLI recording a key rotation) append safely while the agent runs.
//
// Failure modes handled:
//  1. A crash between recording a batch and sending it: the record is written
//     (and fsynced) first, so a batch that left always has a record; the
//     reverse — a record for a batch that never left — can happen and is
//     harmless (the ledger over-reports, never under-reports).
//  2. Many feeds recording at once: appends arriving in the same turn of the
//     event loop share one transaction and one fsync (GroupCommit).
//  3. Two processes appending: each transaction starts with BEGIN IMMEDIATE and
//     reads the head inside it, so the chain never forks.
//  4. A failed transaction: nothing of it is kept and the in-memory view is
//     untouched; GroupCommit retries each append alone.
import type { Statement } from 'better-sqlite3';
import { GroupCommit, type SqliteDatabase } from '../store/index.js';
import type { JsonObject } from './canonical-json.js';
import { canonicalJson } from './canonical-json.js';
import { ChainVerifier, type ChainVerification, type ChainVerifierOptions, type UnreadableRecord } from './chain-verifier.js';
import { restoreAnchor } from './restore-base.js';
import { chainNext, GENESIS_HEAD, type LedgerEntry, type LedgerHead, type LedgerRecord } from './ledger-record.js';

/** Records kept at least this long; the ledger is never trimmed below it (today: never trimmed at all). */
export const DEFAULT_AUDIT_RETENTION_DAYS = 180;
/** The least retention a config may ask for, in days (six months of log retention, graded protection). */
export const MIN_AUDIT_RETENTION_DAYS = 180;
/** Newest records shown in status by default. */
export const DEFAULT_RECENT_RECORDS = 20;

const ACTION_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** A batch as it is handed to the transport. */
export interface EgressBatchRecord {
  relay: string;
  feed: string;
  firstSeq: number;
  lastSeq: number;
  /** Events in the batch (0 for a range that only advances the high-water mark). */
  events: number;
  /** Payload bytes as sent (compressed). */
  bytes: number;
  /** EventList bytes before compression. */
  uncompressedBytes: number;
  /** SHA-256 of the payload as sent. */
  payloadSha256: Uint8Array;
  policyVersion: number;
  codec: string;
  /** A repair batch: events a completeness proof found missing at the relay, sent again (recorded as `repair: true`). */
  repair?: boolean;
}

/**
 * A receipt for an inbound event as it first leaves for the relay (record type
 * INBOUND_RECEIPT_RECORD_TYPE). No key, no body: the hospital's answer about an
 * event, never what the event says about a patient.
 */
export interface EgressReceiptRecord {
  relay: string;
  channel: string;
  /** The inbound event's id. */
  id: string;
  outcome: string;
  final: boolean;
  attempts: number;
}

/** The ledger record type of a receipt sent to the relay. */
export const INBOUND_RECEIPT_RECORD_TYPE = 'inbound-receipt';

/** What the downlink's link needs from the ledger. */
export interface ReceiptRecorder {
  /**
   * Appends the receipt's record durably; `effect` runs inside the record's
   * transaction with its head (so the outbox row notes the head in the same
   * commit, and a receipt is recorded once across a crash).
   */
  recordReceipt(receipt: EgressReceiptRecord, effect?: (head: LedgerHead) => void): Promise<LedgerHead>;
}

/** What the replicator needs from the ledger. */
export interface EgressRecorder {
  /** Appends the batch's record durably (fsynced); resolves with the chain head, which travels with the batch. */
  recordBatch(batch: EgressBatchRecord): Promise<LedgerHead>;
}

/** The ledger as GET /v1/status shows it. */
export interface LedgerStatus {
  /** The newest record; null for an empty ledger. */
  head: { index: number; hash: string; atMs: number } | null;
  /** Records held (the ledger is never trimmed, so also the head index). */
  records: number;
  /** When the oldest record held was appended, ms since the epoch. */
  oldestAtMs: number | null;
  /** Records are kept at least this many days. */
  retentionDays: number;
  /** Newest first. */
  recent: LedgerRecord[];
  /** The newest administrative records (pause, resume, revoke, policy-change, …), newest first. */
  recentActions: LedgerRecord[];
}

export interface EgressLedgerOptions {
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Most appends sharing one transaction; default 1000. */
  maxGroupSize?: number;
  /** Reported in status; default DEFAULT_AUDIT_RETENTION_DAYS. */
  retentionDays?: number;
}

interface AppendRequest {
  entry: LedgerEntry;
  /** Runs inside the record's transaction, so a state change and its record commit together. */
  effect?: (record: LedgerRecord) => void;
}

interface LedgerRow {
  idx: number;
  at_ms: number;
  type: string;
  feed: string | null;
  details: string;
  prev_hash: unknown;
  hash: unknown;
}

export class EgressLedger implements EgressRecorder, ReceiptRecorder {
  private readonly clock: () => number;
  private readonly groupCommit: GroupCommit<AppendRequest, LedgerRecord>;
  private readonly retentionDays: number;
  private readonly insert: Statement;
  private readonly selectHead: Statement;
  private readonly selectSpan: Statement;
  private readonly selectRange: Statement;
  private readonly selectRecent: Statement;
  private readonly selectRecentActions: Statement;
  private readonly commitGroup: { immediate(requests: readonly AppendRequest[]): LedgerRecord[] };

  constructor(db: SqliteDatabase, options: EgressLedgerOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.retentionDays = options.retentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
    this.insert = db.prepare('INSERT INTO egress_ledger (idx, at_ms, type, feed, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.selectHead = db.prepare('SELECT idx, hash, at_ms FROM egress_ledger ORDER BY idx DESC LIMIT 1');
    this.selectSpan = db.prepare('SELECT MIN(idx) AS first, MAX(idx) AS last, (SELECT at_ms FROM egress_ledger ORDER BY idx LIMIT 1) AS oldest_at_ms FROM egress_ledger');
    this.selectRange = db.prepare('SELECT idx, at_ms, type, feed, details, prev_hash, hash FROM egress_ledger WHERE idx >= ? AND idx <= ? ORDER BY idx');
    this.selectRecent = db.prepare('SELECT idx, at_ms, type, feed, details, prev_hash, hash FROM egress_ledger ORDER BY idx DESC LIMIT ?');
    // Uses the partial index egress_ledger_actions (its WHERE is the same).
    // Receipts are traffic like batches, not an operator's action.
    this.selectRecentActions = db.prepare(`SELECT idx, at_ms, type, feed, details, prev_hash, hash FROM egress_ledger WHERE type <> 'batch' AND type <> '${INBOUND_RECEIPT_RECORD_TYPE}' ORDER BY idx DESC LIMIT ?`);
    this.commitGroup = db.transaction((requests: readonly AppendRequest[]) => {
      // The head is read inside the (IMMEDIATE) transaction, never trusted from
      // memory: another process may have appended since.
      let head = this.readHead() ?? GENESIS_HEAD;
      const atMs = this.clock();
      return requests.map((request) => {
        const record = chainNext(head, request.entry, atMs);
        this.insert.run(record.index, record.atMs, record.type, record.feed, canonicalJson(record.details), Buffer.from(record.prevHash, 'hex'), Buffer.from(record.hash, 'hex'));
        request.effect?.(record);
        head = record;
        return record;
      });
    });
    this.groupCommit = new GroupCommit((requests) => this.commitGroup.immediate(requests), { maxGroupSize: options.maxGroupSize });
  }

  /**
   * Appends a record durably; resolves once it is fsynced. `effect` runs inside
   * the same transaction (for state that must change together with its record).
   */
  append(entry: LedgerEntry, effect?: (record: LedgerRecord) => void): Promise<LedgerRecord> {
    // Fails here, not inside a group, when details cannot be encoded.
    canonicalJson(entry.details);
    return this.groupCommit.submit({ entry, effect });
  }

  async recordBatch(batch: EgressBatchRecord): Promise<LedgerHead> {
    const record = await this.append({
      type: 'batch',
      feed: batch.feed,
      details: {
        relay: batch.relay,
        firstSeq: batch.firstSeq,
        lastSeq: batch.lastSeq,
        events: batch.events,
        bytes: batch.bytes,
        uncompressedBytes: batch.uncompressedBytes,
        payloadSha256: Buffer.from(batch.payloadSha256).toString('hex'),
        policyVersion: batch.policyVersion,
        codec: batch.codec,
        ...(batch.repair ? { repair: true } : {}),
      },
    });
    return { index: record.index, hash: record.hash };
  }

  async recordReceipt(receipt: EgressReceiptRecord, effect?: (head: LedgerHead) => void): Promise<LedgerHead> {
    const record = await this.append(
      {
        type: INBOUND_RECEIPT_RECORD_TYPE,
        feed: null,
        details: { relay: receipt.relay, channel: receipt.channel, id: receipt.id, outcome: receipt.outcome, final: receipt.final, attempts: receipt.attempts },
      },
      effect && ((r) => effect({ index: r.index, hash: r.hash })),
    );
    return { index: record.index, hash: record.hash };
  }

  /**
   * Records an administrative action (key-rotation, policy-change, …): `action`
   * is the record's type, lowercase letters, digits and "-". Usable from any
   * process holding agent.db (a CLI command), also while the agent runs.
   */
  recordAdmin(action: string, details: JsonObject, feed: string | null = null): Promise<LedgerRecord> {
    if (!ACTION_NAME.test(action)) throw new TypeError(`ledger action ${JSON.stringify(action)}: expected lowercase letters, digits and "-"`);
    return this.append({ type: action, feed, details });
  }

  /** The newest record's index and hash; null while the ledger is empty. */
  head(): LedgerHead | null {
    return this.readHead();
  }

  /** Transactions and appends committed by this process (how many records shared each fsync). */
  get commitStats(): { groups: number; records: number } {
    return { groups: this.groupCommit.groupsCommitted, records: this.groupCommit.requestsCommitted };
  }

  status(recentLimit = DEFAULT_RECENT_RECORDS): LedgerStatus {
    const head = this.selectHead.get() as { idx: number; hash: Buffer; at_ms: number } | undefined;
    const span = this.selectSpan.get() as { first: number | null; last: number | null; oldest_at_ms: number | null };
    const readable = (rows: Iterable<LedgerRow>): LedgerRecord[] =>
      [...rows].map((row) => fromRow(row, 0)).filter((record): record is LedgerRecord => !('unreadable' in record));
    const recent = readable(this.selectRecent.iterate(recentLimit) as Iterable<LedgerRow>);
    const recentActions = readable(this.selectRecentActions.iterate(recentLimit) as Iterable<LedgerRow>);
    return {
      head: head ? { index: head.idx, hash: hex(head.hash), atMs: head.at_ms } : null,
      records: span.first === null || span.last === null ? 0 : span.last - span.first + 1,
      oldestAtMs: span.oldest_at_ms,
      retentionDays: this.retentionDays,
      recent,
      recentActions,
    };
  }

  /** Records with fromIndex ≤ index ≤ toIndex, in index order; rows that cannot be read come as UnreadableRecord. */
  *records(fromIndex = 1, toIndex = Number.MAX_SAFE_INTEGER): Generator<LedgerRecord | UnreadableRecord> {
    let position = 0;
    for (const row of this.selectRange.iterate(fromIndex, toIndex) as Iterable<LedgerRow>) yield fromRow(row, ++position);
  }

  /** Walks the whole chain (see chain-verifier.ts). */
  verify(options: Omit<ChainVerifierOptions, 'anchor'> = {}): ChainVerification {
    // A restored agent's ledger starts at its restore record, which continues the relay's head (restore-base.ts).
    const head = this.records();
    const first = head.next().value;
    // Closes the statement's iteration before the walk below reuses it.
    head.return(undefined);
    const anchor = first && !('unreadable' in first) ? restoreAnchor(first) : undefined;
    const verifier = new ChainVerifier(anchor ? { ...options, anchor } : options);
    for (const record of this.records()) verifier.push(record);
    const verification = verifier.finish();
    return anchor ? { ...verification, restoreBase: anchor } : verification;
  }

  private readHead(): LedgerHead | null {
    const row = this.selectHead.get() as { idx: number; hash: unknown } | undefined;
    return row ? { index: row.idx, hash: hex(row.hash) } : null;
  }
}

function fromRow(row: LedgerRow, position: number): LedgerRecord | UnreadableRecord {
  let details: unknown;
  try {
    details = JSON.parse(row.details);
  } catch (error) {
    return { unreadable: true, index: row.idx, position, reason: `details are not JSON (${(error as Error).message})` };
  }
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    return { unreadable: true, index: row.idx, position, reason: 'details are not a JSON object' };
  }
  return { index: row.idx, atMs: row.at_ms, type: row.type, feed: row.feed, details: details as JsonObject, prevHash: hex(row.prev_hash), hash: hex(row.hash) };
}

/** Hashes are stored as 32-byte blobs; anything else (a tampered row) is shown as its text. */
function hex(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('hex') : String(value);
}
