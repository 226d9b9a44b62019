// The agent's journal: append-only log of events, with the local copy, the HL7
// dedupe keys and the source positions updated in the same transaction, so capture
// is exactly-once. append() resolves only after the commit has been fsynced
// (synchronous=FULL, see agent-database.ts): that is when a source may acknowledge.
import type { Statement } from 'better-sqlite3';
import { eventFromRow, type EventRow, type JournalEvent } from '../../protocol/index.js';
import type { AppendRequest, AppendResult, CaptureWriter, EventInput, StagedAppend } from './append-request.js';
import { StagedAppends } from './staged-append.js';
import { JournalTrimmedError } from './errors.js';
import type { SqliteDatabase } from './agent-database.js';
import { GroupCommit } from './group-commit.js';
import { LocalCopyStep } from './local-copy-step.js';
import { chooseRangePlan, journalRangeSql, type RangeDensity, type RangePlan, type RangePlanChoice } from './journal-range-plan.js';

export interface JournalOptions {
  /** Milliseconds since the epoch; injected so tests can pin commit times. */
  clock?: () => number;
  /** Most append requests sharing one transaction. Default 1000. */
  maxGroupSize?: number;
  /** Most events in one transaction across requests (a bigger single request still commits whole). Default DEFAULT_MAX_GROUP_EVENTS. */
  maxGroupEvents?: number;
  /** Told the seconds each committed transaction took, its fsync included (the agent's latency histogram). */
  observeCommit?: (seconds: number) => void;
  /** How readRange finds a feed's rows (journal-range-plan.ts). Default 'auto': by the feed's density; a plan pins it (benchmarks, tests). */
  rangePlan?: RangePlanChoice;
}

/** How much of the journal a feed reader takes at once. */
export interface ReadLimits {
  /** Most events returned. */
  maxEvents: number;
  /** Stop once the events' bodies reach this many bytes (at least one event is returned). */
  maxBytes: number;
  /** Most journal positions scanned, so a feed with rare streams still advances in bounded steps. */
  maxScan: number;
}

/** A contiguous journal range and the feed's events inside it. */
export interface JournalRange {
  firstSeq: number;
  lastSeq: number;
  events: JournalEvent[];
}

type CommitListener = (headSeq: number) => void;

/** A dedupe_keys row as the lookup reads it; digest '' means the id alone (see migrations.ts, 7). */
interface DedupeRow {
  digest: string;
  first_seq: number;
  event_count: number;
}

/** Events and the bytes of their bodies. */
export interface StreamTally {
  events: number;
  bytes: number;
}

/**
 * Events per group commit, across requests. A commit blocks the event loop
 * (better-sqlite3 is synchronous): four concurrent 500-row ingest posts merged
 * into one 2,000-row transaction held every HL7 ACK for ~50 ms in the benchmark;
 * capped, an ACK waits for at most one post's rows.
 */
export const DEFAULT_MAX_GROUP_EVENTS = 500;

export class Journal implements CaptureWriter {
  private readonly clock: () => number;
  private readonly groupCommit: GroupCommit<AppendRequest, AppendResult>;
  private readonly observeCommit: ((seconds: number) => void) | undefined;
  private readonly listeners = new Set<CommitListener>();
  private headSeq: number;
  /** Events and body bytes committed per stream by this instance: what status counts without a scan. */
  private readonly appendedByStream = new Map<string, StreamTally>();

  private readonly insertEvent: Statement;
  private readonly localCopy: LocalCopyStep;
  private readonly claimDedupeKey: Statement;
  private readonly findDedupeKey: Statement;
  private readonly savePosition: Statement;
  private readonly selectPosition: Statement;
  private readonly recordTransaction: Statement;
  private readonly selectTransactionAt: Statement;
  private readonly stagedAppends: StagedAppends;
  /**
   * Range queries per feed's stream list and plan (journal-range-plan.ts): a
   * literal IN list reads ~20% faster than json_each.
   */
  private readonly selectRangeByStreams = new Map<string, Statement>();
  /** What the last read of each stream list found, which picks the next read's plan. */
  private readonly rangeDensity = new Map<string, RangeDensity>();
  private readonly rangePlan: RangePlanChoice;
  private readonly selectTrimFloor: Statement;
  private readonly commitGroup: (requests: readonly AppendRequest[]) => AppendResult[];

  constructor(
    private readonly db: SqliteDatabase,
    options: JournalOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.observeCommit = options.observeCommit;
    this.rangePlan = options.rangePlan ?? 'auto';
    this.headSeq = Journal.readHead(db);
    this.insertEvent = db.prepare(
      `INSERT INTO journal (stream, key, op, ts_ms, source, content_type, body, headers)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.localCopy = new LocalCopyStep(db);
    this.claimDedupeKey = db.prepare(
      `INSERT INTO dedupe_keys (scope, id, digest, first_seq, event_count, received_at_ms)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, id, digest) DO NOTHING`,
    );
    // Every digest held for the id: a request matches its own, or a digest-less
    // row (a key without content, or one stored before digests existed).
    this.findDedupeKey = db.prepare('SELECT digest, first_seq, event_count FROM dedupe_keys WHERE scope = ? AND id = ?');
    this.savePosition = db.prepare(
      `INSERT INTO source_positions (source, position, updated_at_ms) VALUES (?, ?, ?)
       ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at_ms = excluded.updated_at_ms`,
    );
    this.selectPosition = db.prepare('SELECT position FROM source_positions WHERE source = ?');
    this.selectTrimFloor = db.prepare('SELECT trimmed_through FROM journal_trim_floor');
    this.recordTransaction = db.prepare('INSERT INTO journal_transactions (first_seq, last_seq) VALUES (?, ?)');
    // Ranges never overlap (migrations.ts, 11): the one with the greatest first_seq at or below seq is the only candidate.
    this.selectTransactionAt = db.prepare('SELECT first_seq, last_seq FROM journal_transactions WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1');
    this.stagedAppends = new StagedAppends(db, this.clock, (commit, tallies) => {
      for (const { stream, events, bytes } of tallies) {
        let tally = this.appendedByStream.get(stream);
        if (!tally) this.appendedByStream.set(stream, (tally = { events: 0, bytes: 0 }));
        tally.events += events;
        tally.bytes += bytes;
      }
      if (commit.lastSeq > this.headSeq) {
        this.headSeq = commit.lastSeq;
        for (const listener of this.listeners) listener(this.headSeq);
      }
    });
    this.commitGroup = db.transaction((requests: readonly AppendRequest[]) => {
      const tsMs = this.clock();
      return requests.map((request) => this.appendInTransaction(request, tsMs));
    });
    this.groupCommit = new GroupCommit((requests) => this.commitAndPublish(requests), {
      maxGroupSize: options.maxGroupSize,
      maxGroupWeight: options.maxGroupEvents ?? DEFAULT_MAX_GROUP_EVENTS,
      weigh: (request) => request.events.length,
    });
  }

  private static readHead(db: SqliteDatabase): number {
    const row = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  /** Appends durably; resolves once the events are fsynced. */
  append(request: AppendRequest): Promise<AppendResult> {
    return this.groupCommit.submit(request);
  }

  /** The position `source` last committed with its events (source_positions), or undefined. */
  savedPosition(source: string): string | undefined {
    return (this.selectPosition.get(source) as { position: string } | undefined)?.position;
  }

  /** Begins a transaction too large for memory (staged-append.ts). */
  stage(source: string): StagedAppend {
    return this.stagedAppends.begin(source);
  }

  /** The last committed journal seq (0 when empty). */
  get head(): number {
    return this.headSeq;
  }

  /**
   * The first seq of the transaction (an append of several events, or a staged
   * commit) that holds `seq` and goes on after it, so a batch ending at `seq`
   * would show part of it; undefined when no transaction spans `seq`.
   */
  transactionSpanning(seq: number): number | undefined {
    const row = this.selectTransactionAt.get(seq) as { first_seq: number; last_seq: number } | undefined;
    return row && row.last_seq > seq ? row.first_seq : undefined;
  }

  /** Appends waiting for the next group commit. */
  get pendingAppends(): number {
    return this.groupCommit.pending;
  }

  get groupCommitStats(): { groups: number; requests: number } {
    return { groups: this.groupCommit.groupsCommitted, requests: this.groupCommit.requestsCommitted };
  }

  /**
   * Events (and body bytes) of `streams` committed since this Journal was opened,
   * consistent with `head` read in the same turn: the difference between two
   * readings is what was journaled between them, without counting rows.
   */
  appendedTotals(streams: readonly string[]): StreamTally {
    const total = { events: 0, bytes: 0 };
    // Empty: every stream (a backup feed).
    for (const stream of streams.length === 0 ? this.appendedByStream.keys() : streams) {
      const tally = this.appendedByStream.get(stream);
      if (tally) {
        total.events += tally.events;
        total.bytes += tally.bytes;
      }
    }
    return total;
  }

  /** Called after each commit with the new head seq. Returns an unsubscribe function. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads the next range of a feed after `afterSeq`: the events of `streams`
   * (every stream when `streams` is empty: a backup feed) in (afterSeq, lastSeq], where lastSeq is the committed head, the scan limit,
   * or the seq of the event that filled maxEvents / maxBytes.
   * Returns undefined when the journal holds nothing after afterSeq; throws
   * JournalTrimmedError when positions after afterSeq have been trimmed.
   */
  readRange(streams: readonly string[], afterSeq: number, limits: ReadLimits): JournalRange | undefined {
    const upper = Math.min(this.headSeq, afterSeq + limits.maxScan);
    if (upper <= afterSeq) return undefined;
    const trimmedThrough = (this.selectTrimFloor.get() as { trimmed_through: number }).trimmed_through;
    if (afterSeq < trimmedThrough) throw new JournalTrimmedError(afterSeq, trimmedThrough + 1);
    // Iterated, not fetched whole: with HL7-sized bodies the byte budget stops the
    // read long before maxEvents, and every row fetched past it was a wasted copy
    // (two thirds of a backlog drain's time, measured).
    const streamsKey = JSON.stringify(streams);
    const plan = this.rangePlan === 'auto' ? chooseRangePlan(streams.length, this.rangeDensity.get(streamsKey)) : this.rangePlan;
    const rows = this.selectRange(streams, streamsKey, plan).iterate(afterSeq, upper, ...streams, limits.maxEvents) as IterableIterator<EventRow>;
    const events: JournalEvent[] = [];
    let bytes = 0;
    for (const row of rows) {
      events.push(eventFromRow(row));
      bytes += row.body.length;
      if (bytes >= limits.maxBytes) break;
    }
    const full = events.length === limits.maxEvents || bytes >= limits.maxBytes;
    const lastSeq = full ? events[events.length - 1]!.seq : upper;
    // The same for either plan, so the choice never depends on which one ran.
    this.rangeDensity.set(streamsKey, { events: events.length, positions: lastSeq - afterSeq });
    return { firstSeq: afterSeq + 1, lastSeq, events };
  }

  private selectRange(streams: readonly string[], streamsKey: string, plan: RangePlan): Statement {
    const cacheKey = `${plan}:${streamsKey}`;
    let statement = this.selectRangeByStreams.get(cacheKey);
    if (!statement) {
      statement = this.db.prepare(journalRangeSql(streams.length, plan));
      this.selectRangeByStreams.set(cacheKey, statement);
    }
    return statement;
  }

  private commitAndPublish(requests: readonly AppendRequest[]): AppendResult[] {
    const before = this.headSeq;
    const startedAt = performance.now();
    const results = this.commitGroup(requests);
    this.observeCommit?.((performance.now() - startedAt) / 1000);
    results.forEach((result, i) => {
      for (const seq of result.seqs) if (seq > this.headSeq) this.headSeq = seq;
      if (!result.duplicate) this.tally(requests[i]!.events);
    });
    if (this.headSeq !== before) for (const listener of this.listeners) listener(this.headSeq);
    return results;
  }

  private tally(events: readonly EventInput[]): void {
    for (const event of events) {
      let tally = this.appendedByStream.get(event.stream);
      if (!tally) this.appendedByStream.set(event.stream, (tally = { events: 0, bytes: 0 }));
      tally.events++;
      tally.bytes += event.body.length;
    }
  }

  private appendInTransaction(request: AppendRequest, tsMs: number): AppendResult {
    let idReused = false;
    if (request.dedupe) {
      const digest = request.dedupe.digest ?? '';
      const rows = this.findDedupeKey.all(request.dedupe.scope, request.dedupe.id) as DedupeRow[];
      const held = rows.find((row) => row.digest === digest) ?? rows.find((row) => row.digest === '' || digest === '');
      if (held) {
        return { seqs: Array.from({ length: held.event_count }, (_, i) => held.first_seq + i), duplicate: true };
      }
      idReused = rows.length > 0;
    }
    const seqs: number[] = [];
    for (const event of request.events) {
      const headers = JSON.stringify(event.headers);
      const info = this.insertEvent.run(event.stream, event.key, event.op, tsMs, request.source, event.contentType, event.body, headers);
      const seq = Number(info.lastInsertRowid);
      seqs.push(seq);
      this.localCopy.apply(event, seq);
    }
    // Seqs within one request are consecutive: one writer, one transaction.
    if (seqs.length > 1) this.recordTransaction.run(seqs[0], seqs[seqs.length - 1]);
    if (request.dedupe) {
      this.claimDedupeKey.run(request.dedupe.scope, request.dedupe.id, request.dedupe.digest ?? '', seqs[0] ?? 0, seqs.length, tsMs);
    }
    if (request.position !== undefined) this.savePosition.run(request.source, request.position, tsMs);
    request.alsoInTransaction?.(seqs);
    return idReused ? { seqs, duplicate: false, idReused } : { seqs, duplicate: false };
  }
}

