// Walks an egress ledger in stored order and says what is wrong with it, naming
// the record. Pure and streaming: records are pushed one at a time (a ledger
// kept 180 days can hold hundreds of millions), and only anomalies are kept.
//
// What it detects:
//  1. A modified record: its contents no longer hash to its stored hash.
//  2. A record modified and re-hashed: the next record's prevHash is not its hash.
//  3. A deleted record (or range): the indexes jump; reported once the walk
//     ends, unless the record turns up later (then it was reordered).
//  4. Reordered records, at any distance: a record found where another index
//     belongs. In a database, where the position is the index, the record at
//     position p hashes correctly only under another index q; in an export,
//     index q appears after a higher one. In a database the rows of a reordering
//     are a permutation: the row a moved record belongs in holds another moved
//     record, which does not hash under its own index either. So every record
//     that does not hash is kept as a suspect (up to MAX_SUSPECTS_KEPT), and each
//     new suspect is tried under the position of every suspect kept, and they
//     under its position: one pass, however far apart the rows are, and memory
//     bounded by the suspects, not by the ledger (a ledger of hundreds of
//     millions of records cannot be held by hash). Suspects are named when the
//     walk ends: reordered if one was matched, modified if none was.
//  5. A cut-off tail (records removed from the end): the chain alone cannot
//     tell, so the heads the relay received with batches are compared: a head
//     beyond the local end, or one whose hash differs, is named.
//  6. A deleted start: the first record is not the one after the anchor.
import type { LedgerHead, LedgerRecord } from './ledger-record.js';
import { GENESIS_HEAD, recordHash } from './ledger-record.js';

/**
 * Records that do not hash under their own index kept to be matched against each
 * other (reordering). Each new one is hashed under every kept position and they
 * under its own, so this bounds both the memory (a record each) and the hashing per
 * suspect; past it, further suspects are named modified without a search.
 */
export const MAX_SUSPECTS_KEPT = 1_000;
/** Problems kept in full; the rest are only counted. */
export const DEFAULT_MAX_PROBLEMS = 100;

export type LedgerProblemKind = 'modified' | 'replaced' | 'missing' | 'out-of-order' | 'duplicate' | 'malformed' | 'truncated' | 'relay-mismatch';

export interface LedgerProblem {
  /** The record the problem is about. */
  index: number;
  kind: LedgerProblemKind;
  /** One line for the operator, naming the record and what is wrong. */
  message: string;
}

/** A ledger head the relay received with a batch (or revoke) of one feed. */
export interface RelayLedgerHead {
  /** The relay's name or address, for messages. */
  relay: string;
  feed: string;
  index: number;
  /** Hex SHA-256. */
  hash: string;
  /** When the relay received it, in ms since the epoch; null when unknown. */
  receivedAtMs: number | null;
}

export interface ChainVerifierOptions {
  /** The record before the first one given: GENESIS_HEAD for a whole ledger, the previous record for a partial export. */
  anchor?: LedgerHead;
  /** Heads the relay holds, checked against the local records. */
  relayHeads?: readonly RelayLedgerHead[];
  /** Default DEFAULT_MAX_PROBLEMS. */
  maxProblems?: number;
}

export interface ChainVerification {
  ok: boolean;
  /** Records read. */
  records: number;
  firstIndex: number | null;
  /** The last record in stored order; null when there is none. */
  head: LedgerHead | null;
  /** Sorted by index. */
  problems: LedgerProblem[];
  /** Problems found beyond maxProblems. */
  moreProblems: number;
  /** Relay heads compared with a local record (the others lie before a partial export). */
  relayHeadsChecked: number;
  /** The head the ledger's first record (a 'restore', restore-base.ts) continues; absent for a ledger from record 1. */
  restoreBase?: LedgerHead;
}

/** A row or line that could not be read as a record at all. */
export interface UnreadableRecord {
  unreadable: true;
  /** Its index when that much could be read. */
  index: number | null;
  /** Its place in the source (row or line number, from 1). */
  position: number;
  reason: string;
}

export class ChainVerifier {
  private readonly anchor: LedgerHead;
  private readonly maxProblems: number;
  private readonly relayHeads: Map<number, RelayLedgerHead[]>;
  private readonly problems: LedgerProblem[] = [];
  private moreProblems = 0;
  /** Index ranges skipped over, [from, to] inclusive, with the records either side. */
  private missing: { from: number; to: number; before: number; after: number }[] = [];
  private expected: number;
  private previousHash: string;
  /** True when the previous record already has a problem, so a broken link after it is no news. */
  private previousSuspect = false;
  private records = 0;
  private firstIndex: number | null = null;
  private last: LedgerHead | null = null;
  private highestIndex = 0;
  private relayHeadsChecked = 0;
  /** Records that do not hash under their position, in stored order; `writtenAs` once one is matched elsewhere. */
  private readonly suspects: { record: LedgerRecord; writtenAs?: number }[] = [];

  constructor(options: ChainVerifierOptions = {}) {
    this.anchor = options.anchor ?? GENESIS_HEAD;
    this.maxProblems = options.maxProblems ?? DEFAULT_MAX_PROBLEMS;
    this.expected = this.anchor.index + 1;
    this.previousHash = this.anchor.hash;
    this.highestIndex = this.anchor.index;
    this.relayHeads = new Map();
    for (const head of options.relayHeads ?? []) {
      const list = this.relayHeads.get(head.index) ?? [];
      list.push(head);
      this.relayHeads.set(head.index, list);
    }
  }

  push(record: LedgerRecord | UnreadableRecord): void {
    this.records++;
    if ('unreadable' in record) return this.pushUnreadable(record);
    const { index } = record;
    this.firstIndex ??= index;
    const before = this.problems.length + this.moreProblems;
    const hashes = recordHash(record) === record.hash;
    // A record that does not hash is a problem, named when the walk ends (reordered or modified).
    const suspect = !hashes;
    let linkExplained = this.previousSuspect;

    if (index === this.expected) {
      if (!hashes) this.reportBadContents(record);
      this.expected = index + 1;
    } else if (index > this.expected) {
      this.missing.push({ from: this.expected, to: index - 1, before: this.expected - 1, after: index });
      if (!hashes) this.reportBadContents(record);
      linkExplained = true;
      this.expected = index + 1;
    } else {
      // An index at or below one already passed: it belongs earlier.
      const after = this.expected - 1;
      if (this.takeFromMissing(index)) {
        this.report({ index, kind: 'out-of-order', message: `record ${index} appears after record ${after}: records were reordered` });
      } else {
        this.report({ index, kind: 'duplicate', message: `record ${index} appears again after record ${after}: a record was duplicated or moved` });
      }
      linkExplained = true;
    }

    if (hashes && !linkExplained && record.prevHash !== this.previousHash) {
      const previous = index - 1;
      this.report(
        previous === this.anchor.index
          ? {
              index,
              kind: 'replaced',
              message:
                this.anchor.index === 0
                  ? `record ${index} does not start the chain: its prevHash is not 64 zeros (the records before it were removed, or it was replaced)`
                  : `record ${index} does not follow the anchor record ${this.anchor.index}: its prevHash is not that record's hash`,
            }
          : {
              index: previous,
              kind: 'replaced',
              message: `record ${previous} was modified and re-hashed, or replaced: record ${index}'s prevHash is not its hash`,
            },
      );
    }

    this.checkRelayHeads(record);
    this.previousSuspect = suspect || this.problems.length + this.moreProblems > before;
    this.previousHash = record.hash;
    this.last = { index, hash: record.hash };
    if (index > this.highestIndex) this.highestIndex = index;
  }

  finish(): ChainVerification {
    for (const { record, writtenAs } of this.suspects) {
      if (writtenAs !== undefined) this.report({ index: record.index, kind: 'out-of-order', message: `record ${record.index} holds what was written as record ${writtenAs}: records were reordered` });
      else this.reportModified(record);
    }
    for (const gap of this.missing) {
      const range = gap.from === gap.to ? `record ${gap.from} is missing` : `records ${gap.from}..${gap.to} are missing`;
      const where = gap.before === this.anchor.index ? `the ledger starts at record ${gap.after}` : `record ${gap.before} is followed by record ${gap.after}`;
      this.report({ index: gap.from, kind: 'missing', message: `${range} (deleted): ${where}` });
    }
    for (const heads of this.relayHeads.values()) {
      for (const head of heads) {
        if (head.index <= this.highestIndex) continue;
        const when = head.receivedAtMs === null ? '' : ` received ${new Date(head.receivedAtMs).toISOString()}`;
        this.report({
          index: head.index,
          kind: 'truncated',
          message:
            `record ${head.index} is missing: relay ${head.relay} holds ledger head ${head.index} (${head.hash.slice(0, 16)}…) from feed ${head.feed}${when}, ` +
            `but the local ledger ends at record ${this.highestIndex}: its tail was cut off`,
        });
      }
    }
    this.problems.sort((a, b) => a.index - b.index);
    return {
      ok: this.problems.length === 0 && this.moreProblems === 0,
      records: this.records,
      firstIndex: this.firstIndex,
      head: this.last,
      problems: this.problems,
      moreProblems: this.moreProblems,
      relayHeadsChecked: this.relayHeadsChecked,
    };
  }

  private pushUnreadable(record: UnreadableRecord): void {
    const index = record.index ?? this.expected;
    this.firstIndex ??= index;
    this.report({ index, kind: 'malformed', message: `record ${index}${record.index === null ? ` (position ${record.position})` : ''} cannot be read: ${record.reason}` });
    if (record.index !== null && record.index >= this.expected) this.expected = record.index + 1;
    this.previousSuspect = true;
    this.previousHash = '';
    if (index > this.highestIndex) this.highestIndex = index;
  }

  /**
   * The record does not hash under its index: reordered (it hashes under the position of another suspect) or
   * modified. Matched both ways against the suspects kept, so the pair is found whichever comes first.
   */
  private reportBadContents(record: LedgerRecord): void {
    if (this.suspects.length >= MAX_SUSPECTS_KEPT) return this.reportModified(record);
    const suspect: { record: LedgerRecord; writtenAs?: number } = { record };
    for (const earlier of this.suspects) {
      if (earlier.writtenAs === undefined && recordHash({ ...earlier.record, index: record.index }) === earlier.record.hash) earlier.writtenAs = record.index;
      if (suspect.writtenAs === undefined && recordHash({ ...record, index: earlier.record.index }) === record.hash) suspect.writtenAs = earlier.record.index;
    }
    this.suspects.push(suspect);
  }

  private reportModified(record: LedgerRecord): void {
    this.report({ index: record.index, kind: 'modified', message: `record ${record.index} (${record.type}${record.feed ? ` of feed ${record.feed}` : ''}) was modified: its contents do not match its hash` });
  }

  private checkRelayHeads(record: LedgerRecord): void {
    for (const head of this.relayHeads.get(record.index) ?? []) {
      this.relayHeadsChecked++;
      if (head.hash === record.hash) continue;
      this.report({
        index: record.index,
        kind: 'relay-mismatch',
        message: `record ${record.index} differs from the head relay ${head.relay} received with feed ${head.feed}: the relay has ${head.hash.slice(0, 16)}…, the ledger ${record.hash.slice(0, 16)}… (the record, or the chain up to it, was rewritten)`,
      });
    }
  }

  private takeFromMissing(index: number): boolean {
    const i = this.missing.findIndex((gap) => index >= gap.from && index <= gap.to);
    if (i < 0) return false;
    const gap = this.missing[i]!;
    const pieces = [
      ...(gap.from < index ? [{ ...gap, to: index - 1, after: index }] : []),
      ...(index < gap.to ? [{ ...gap, from: index + 1, before: index }] : []),
    ];
    this.missing.splice(i, 1, ...pieces);
    return true;
  }

  private report(problem: LedgerProblem): void {
    if (this.problems.length < this.maxProblems) this.problems.push(problem);
    else this.moreProblems++;
  }
}

/** Verifies records given in stored order. */
export function verifyChain(records: Iterable<LedgerRecord | UnreadableRecord>, options: ChainVerifierOptions = {}): ChainVerification {
  const verifier = new ChainVerifier(options);
  for (const record of records) verifier.push(record);
  return verifier.finish();
}
