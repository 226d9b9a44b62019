// One feed's send loop on one stream: read the next journal range -> encode it
// (compressed on the thread pool) -> wait for permission from the shared uplink
// -> send. One pump per feed, so a feed's batches leave in journal order; feeds
// pump independently, so a clinical feed never waits behind a bulk feed's read or
// compression, only (by priority) for the line itself.
//
// Failure modes handled:
//  1. A nack while a batch is being encoded or waits for permission: the batch
//     no longer follows what the relay expects; it is dropped (its permit handed
//     back) and the pump reads again from the relay's expected seq.
//  2. The stream ends at any await: the pump checks the stream's signal before
//     touching the window, hands back its permits and stops; the next stream
//     starts a new loop from the relay's Welcome.
//  3. The feed's class may not send now (timetable): the pump reads nothing and
//     waits for the next policy change; the backlog stays on disk.
//  4. A quiet feed still advances its high-water mark every emptyBatchIntervalMs.
//  5. The operator pauses or revokes the feed while a batch is being prepared:
//     the hold is checked again right before the hand-over, in the same
//     synchronous step as the send, so once setHold() has returned no batch of
//     this feed reaches the transport; a prepared batch is dropped (its permit
//     handed back) and read again once the hold is lifted.
//  6. The egress ledger cannot be written: the batch is not sent (nothing
//     leaves without its record); the stream closes and the replicator retries.
//  7. The relay's mark is beyond the journal head (FeedWindow, failure mode 4):
//     the feed sends nothing, its status names the incident, acks stay put.
//  8. A batch naming instances (blob-ref events) is handed over only once every
//     one of them is complete at the relay (blob-shipper.ts: offer, missing
//     chunks as parts through the uplink, offer again). The range is cut so its
//     instances total at most MAX_BATCH_INSTANCE_BYTES (at least one), so a
//     large study still advances the feed's mark instance by instance.
//  9. A nack 'blob-incomplete' (the relay lost or never had an instance the
//     batch names) is a resend from its expected seq like any nack: the batch is
//     read again and its instances offered again, which ships what is missing.
// 10. Instances cannot ship (a relay without blob transfer, an offer the relay
//     refuses, a corrupt chunk in the archive, a blob-ref body that does not
//     parse, de-identification failing): the feed is held by `imaging` with a
//     problem naming the instance and the code (WL_A026, WL_A028); other feeds go
//     on. A new stream tries again (the relay may have been upgraded, the study
//     re-sent).
// 11. The stream ends or the window moves while parts are in flight: the
//     shipper stops (its permits handed back as each part's answer or the
//     session's end settles it); the relay keeps what it stored, so the next
//     attempt sends only what is missing, from partialBytes on.
// 12. Completeness proofs (replication/feed-prover.ts): each batch's leaves —
//     the SHA-256 of every body exactly as it leaves, after the policy — are
//     kept after the ledger record and before the hand-over, so no event leaves
//     unrecorded; a resend (another IV for an encrypted field) replaces them.
//     buildRepair shapes and encodes the events a proof found missing again.
import { DEFAULT_COMPRESSION_LEVEL, encodeEventsAsync, type CodecName, type EncodedPayload, type JournalEvent } from '../../protocol/index.js';
import type { LedgerHead } from '../audit/index.js';
import { batchBodyBudget, DEFAULT_FEED_CLASS, RateMeter, type Permit, type Uplink } from '../bandwidth/index.js';
import { applyPolicy, IdentifierScan, type FeedPolicy, type IdentifierScanStatus, type PolicyResult } from '../policy/index.js';
import { JournalTrimmedError, type Journal, type JournalRange, type ReadLimits } from '../store/index.js';
import { feedBlockedKind } from './feed-blocked-kind.js';
import type { InstanceArchive, InstanceTransform } from '../imaging/index.js';
import { BLOB_REF_CONTENT_TYPE, IMAGING_STREAM, parseImagingInstanceBody, type ImagingInstanceBody } from '../../protocol/index.js';
import { AgentErrorCode } from '../errors.js';
import { BlobShipper, type BlobProblem } from './blob-shipper.js';
import { ImagingBacklog } from './imaging-backlog.js';
import type { InstanceClaims } from './instance-claims.js';
import { CompressionGovernor, LINE_WAIT_MS, type CompressionChoice, type CompressionLevelSetting } from './compression-governor.js';
import { FeedWindow, type MarkIncident, type ReplyOutcome } from './feed-window.js';
import type { OutboundBatch, RelaySession } from './relay-transport.js';
import { createHash } from 'node:crypto';
import type { FeedProofStatus } from './feed-prover.js';
import { systemTimers, type TimerHandle, type Timers } from '../../runtime/index.js';

/** Weight of the newest batch in the compression-ratio estimate (0–1). */
const COMPRESSION_RATIO_WEIGHT = 0.5;
/**
 * Fewer new journal positions than this are not sent while another batch of the
 * feed awaits its ack (see sendNext): they go with the next one.
 */
const SMALL_BATCH_SEQS = 256;
/**
 * ...and wait at most this long after that batch left, in ms. On a fast line the
 * ack is back well within it; on a line slower than the cap the ack waits behind
 * up to maxInFlightBytes of other classes' bytes, and holding until it came
 * added that whole queue a second time to a clinical message's wait (measured:
 * p50 2.39 s, max 2.92 s against a 2 s bound; test/security/link-hold-bound).
 */
const SMALL_BATCH_HOLD_MS = 200;
/** Events shaped by the feed policy between two yields to the event loop (~10–20 ms of work). */
const POLICY_SLICE_EVENTS = 200;
/** Most instance bytes one batch names (failure mode 8): its instances ship before it, so its ack waits for them. */
export const MAX_BATCH_INSTANCE_BYTES = 64 * 1024 * 1024;

/**
 * Who holds a feed back. trimmed: the journal no longer holds what the feed
 * must send next (until the next Welcome). integrity: the relay's mark is beyond
 * the journal head (FeedWindow incident). relay: the relay refuses the feed
 * (revoked there). operator: paused or revoked by the operator. imaging: its
 * instances cannot ship (failure mode 10; until the next stream).
 */
export type FeedHolder = 'trimmed' | 'integrity' | 'relay' | 'operator' | 'imaging';

/** Status `blockedKind`: a holder, or `timetable` (the uplink keeps the feed's class off the line). */
export type FeedBlockedKind = FeedHolder | 'timetable';

/** Whether the feed may send, and if not, who holds it and why: the answer to "why is this feed not sending". */
export type FeedGate = { state: 'open' } | { state: 'held'; by: FeedHolder; reason: string; sinceMs?: number };

/** The holders set through setHold(); `integrity` is the window's incident, read from it (FeedWindow owns it). */
export type SettableFeedHolder = Exclude<FeedHolder, 'integrity'>;

/**
 * When several hold a feed at once, the first of these is the gate's answer
 * (status `blocked` names it). They are kept apart because each is lifted by its
 * own party: an operator's resume does not end a refusal at the relay.
 */
const HOLDERS: readonly FeedHolder[] = ['trimmed', 'integrity', 'relay', 'operator', 'imaging'];

export interface ReplicatedFeed {
  name: string;
  streams: string[];
  /** Version of the policy shaping this feed (0 = pass-through). */
  policyVersion: number;
  /** Shapes every batch as it is built (agent/policy); none = events leave as journaled. */
  policy?: FeedPolicy;
  /** Priority class on the uplink (bandwidth.classes); default "standard". */
  class?: string;
  /** Imaging feeds with `policy.dicom`: de-identifies each blob-ref event's instance before it ships. */
  deidentify?: InstanceTransform;
  /** A backup feed (`backup: true`, streams empty = every stream): each event leaves sealed by this instead of a policy. */
  backup?: BackupSealer;
}

/**
 * Seals a backup feed's events (agent/exit/backup-sealer.ts): one event out for
 * each that may leave (none of a local-only stream), same seqs, each the whole
 * journal row encrypted; synchronous, a batch's worth (AES-GCM of ~1,000 rows,
 * about as long as a policy slice). A port, so the pump needs neither the
 * store's side tables nor the keyring.
 */
export interface BackupSealer {
  seal(range: JournalRange): JournalEvent[];
}

export interface FeedReplicationStatus {
  feed: string;
  /** Completeness proofs of the feed (feed-prover.ts); absent when they are off. */
  proofs?: FeedProofStatus;
  streams: string[];
  class: string;
  ackedSeq: number;
  sentSeq: number;
  inFlight: number;
  lastAckAtMs: number | null;
  eventsSent: number;
  /** Compressed payload bytes sent (resends included). */
  bytesSent: number;
  /** The codec and the level the next batch is compressed at; setting adaptive when the level follows what is scarce. */
  compression: CompressionChoice;
  batchesAcked: number;
  duplicateAcks: number;
  nacks: number;
  /** Achieved rate: acknowledged payload bytes per second, averaged over ~10 s. */
  rateBytesPerSecond: number;
  /** Acknowledged events per second, averaged over ~10 s. */
  rateEventsPerSecond: number;
  /** Why the feed's class may not send now; null when it may. */
  blocked: string | null;
  /** What `blocked` is, as a code the dashboard translates (feed-blocked-kind.ts); null when not blocked. */
  blockedKind: FeedBlockedKind | null;
  /** True while the operator holds the feed (pause, revoke): nothing of it leaves. */
  paused: boolean;
  /** The policy version the feed's batches carry (0 = pass-through). */
  policyVersion: number;
  /** What the policy let out that it should not have (identifier scan, unreadable bodies); null without a policy. */
  identifiers: IdentifierScanStatus | null;
  /** The relay holds a mark beyond the journal head: the feed is stopped (also in `blocked`); null when not. */
  integrity: MarkIncident | null;
  /** A feed carrying blob-ref events (imaging): its instance transfer; absent for other feeds. */
  imaging?: ImagingFeedStatus;
}

/** An imaging feed's blob transfer, as GET /v1/status serves it (the dashboard, metrics and alerts read it). */
export interface ImagingFeedStatus {
  /** Studies (distinct Study Instance UIDs) of the instances not yet acknowledged by the relay. */
  studiesWaiting: number;
  instancesWaiting: number;
  /** Bytes of those instances still to ship (what the relay already holds is not counted). */
  bytesWaiting: number;
  /** Chunks the relay stored (acknowledged) since the agent started, and the rate over ~10 s. */
  chunksSent: number;
  chunksPerSecond: number;
  /** Chunk bytes put on the wire (resent parts included). */
  chunkBytesSent: number;
  /** Bytes the relay already held when offered (a re-sent study, a second feed): not sent. */
  dedupedBytes: number;
  /** Seconds until bytesWaiting is shipped at the current rate within the timetable's windows; null when unknown (no rate yet, or blocked). */
  etaSeconds: number | null;
  /** The instance being shipped now (SOP Instance UID), if any. */
  current: { sopInstanceUid: string; studyUid: string; chunksDone: number; chunks: number } | null;
  /** Why instances cannot ship (relay without blob transfer, an offer refused, a chunk corrupt in the archive); null when they can. */
  problem: { code: string; message: string; sinceMs: number } | null;
}

/** A journal range read, its payload being shaped and encoded. */
interface PreparedBatch {
  /** The window position it follows: stale once the window is elsewhere. */
  after: number;
  range: JournalRange;
  /** The journal head when the range was read: the batch announces it (the relay bounds lastSeq by it). */
  journalHeadSeq: number;
  /** The last seq of the range no journal transaction spans: how far vendors may be shown it (Batch.complete_through_seq). */
  completeThroughSeq: number;
  encoded: Promise<ShapedPayload>;
}

/** A batch's payload and the instances (as they leave: de-identified where the feed says so) that must be at the relay first. */
type ShapedPayload = EncodedPayload & { instances: ImagingInstanceBody[]; leaves: SentLeaf[] };

/** An event as it left, for the completeness proofs: its seq and the SHA-256 of its body exactly as sent. */
export interface SentLeaf {
  seq: number;
  bodySha256: Buffer;
}

/** Keeps the leaves of each batch before it is handed over (feed-proof-store.ts). Synchronous: one SQLite transaction. */
export interface PumpLeafRecorder {
  recordLeaves(feed: string, leaves: readonly SentLeaf[]): void;
}

function sentLeaves(events: readonly JournalEvent[]): SentLeaf[] {
  return events.map((event) => ({ seq: event.seq, bodySha256: createHash('sha256').update(event.body).digest() }));
}

/** A blob-ref event that cannot be shipped (its body, its de-identification): holds the feed (failure mode 10). */
class InstanceUnshippable extends Error {
  constructor(readonly problem: BlobProblem) {
    super(problem.message);
  }
}

/** Records a batch in the egress ledger before it is handed over (agent/audit). */
export interface PumpEgressRecorder {
  /** Resolves once the record is durable, with the ledger head the batch carries. */
  recordBatch(batch: { feed: string; firstSeq: number; lastSeq: number; events: number; bytes: number; uncompressedBytes: number; payloadSha256: Uint8Array; policyVersion: number; codec: string; repair?: boolean }): Promise<LedgerHead>;
}

export interface FeedPumpOptions {
  spec: ReplicatedFeed;
  journal: Journal;
  uplink: Uplink;
  codec: CodecName;
  /** The codec's level, or 'adaptive' (compression-governor.ts). Default: the codec's default level. */
  compressionLevel?: CompressionLevelSetting;
  limits: ReadLimits;
  /** Batches awaiting a reply at once. */
  maxInFlight: number;
  /** How often a quiet feed still advances its high-water mark, in ms. */
  emptyBatchIntervalMs: number;
  /** The acked seq saved locally: what status shows before the first Welcome. */
  savedAckedSeq: number;
  clock: () => number;
  /** Default: the system timers. */
  timers?: Timers;
  /** Where each batch is recorded before it is sent; none = no ledger (tests). */
  egress?: PumpEgressRecorder;
  /** Where each batch's leaves are kept before it is sent (completeness proofs); none = no proofs. */
  leaves?: PumpLeafRecorder;
  /** Start held by the operator (a feed paused or revoked before the agent started); the reason shows in status. */
  hold?: string | null;
  /** Told the seconds from each batch's hand-over to its ack, by the clock above (the agent's latency histogram). */
  observeRoundTrip?: (seconds: number) => void;
  /** Where archived instances are read from (blob-ref events); none = such a feed is held. */
  archive?: InstanceArchive;
  /** The instances the relay's feeds are shipping now, shared by their shippers (blob-shipper.ts failure mode 9). */
  instanceClaims?: InstanceClaims;
  log?: { error(fields: object, message: string): void; warn?(fields: object, message: string): void };
}

/** An established stream as a pump sees it. */
export interface PumpStream {
  session: RelaySession;
  /** Aborted when the stream ends, whatever the reason. */
  signal: AbortSignal;
  /** Most body bytes in one batch on this stream (config and the relay's Welcome). */
  maxBatchBytes: number;
}

/** Sends one feed's journal to one relay, batch by batch, as the shared uplink permits. */
export class FeedPump {
  readonly window: FeedWindow;
  readonly className: string;
  /** Permits of the batches in flight, oldest first: one per FeedWindow batch. */
  private permits: Permit[] = [];
  private readonly wakeSignal = new WakeSignal();
  private readonly ackedBytes: RateMeter;
  private readonly ackedEvents: RateMeter;
  private lastBatchAtMs = 0;
  private compressionRatio = 1;
  /** The level each batch is compressed at: fixed, or chosen from what is scarce (compression-governor.ts). */
  private readonly compression: CompressionGovernor;
  /** The window was found full since the last hand-over: the line (or the relay) held the feed back. */
  private windowFullSinceSend = false;
  private lastAckAtMs: number | null = null;
  private eventsSent = 0;
  private bytesSent = 0;
  private batchesAcked = 0;
  private duplicateAcks = 0;
  private nacks = 0;
  /** Who holds the feed back and why; the gate is the first of them by HOLDERS. Set only through setHold(). */
  private readonly holds = new Map<SettableFeedHolder, { reason: string; sinceMs: number }>();
  /** True while a stream is open (between start() and its abort). */
  private streaming = false;
  private readonly idleWaiters = new Set<() => void>();
  /** Findings of the feed policy's identifier scan; undefined without a policy. */
  private readonly identifierScan: IdentifierScan | undefined;
  /** The next batch, read and being encoded while the previous one is handed over. */
  private ahead: PreparedBatch | undefined;
  /** Wakes the pump when a small batch's hold (SMALL_BATCH_HOLD_MS) runs out. */
  private holdTimer: TimerHandle | undefined;
  private readonly timers: Timers;
  private readonly shipper: BlobShipper | undefined;
  /** What the feed owes of instances; created once the feed is seen to carry them. */
  private backlog: ImagingBacklog | undefined;
  /** Instances complete at the relay whose events are not yet acked (bytesWaiting leaves them out). */
  private readonly shippedInstances = new Set<string>();
  /** Why instances cannot ship, kept across streams while it lasts (status imaging.problem). */
  private imagingProblem: (BlobProblem & { sinceMs: number }) | null = null;

  constructor(private readonly options: FeedPumpOptions) {
    this.className = options.spec.class ?? DEFAULT_FEED_CLASS;
    this.timers = options.timers ?? systemTimers;
    this.window = new FeedWindow(options.spec.name, options.maxInFlight);
    this.compression = new CompressionGovernor(options.codec, options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL[options.codec]);
    this.window.reset(options.savedAckedSeq, options.journal.head);
    if (options.hold != null) this.setHold('operator', options.hold);
    this.identifierScan = options.spec.policy ? new IdentifierScan(options.spec.policy.scan) : undefined;
    this.ackedBytes = new RateMeter(options.clock);
    this.ackedEvents = new RateMeter(options.clock);
    this.shipper = options.archive
      ? new BlobShipper({
          feed: options.spec.name,
          className: this.className,
          uplink: options.uplink,
          archive: options.archive,
          clock: options.clock,
          ...(options.instanceClaims ? { claims: options.instanceClaims } : {}),
          ...(options.log?.warn ? { log: { warn: options.log.warn.bind(options.log) } } : {}),
        })
      : undefined;
    if (options.spec.streams.includes(IMAGING_STREAM) || options.spec.deidentify) this.watchImaging();
  }

  /** Starts the running view of what the feed owes of instances (failure mode 8's status side). */
  private watchImaging(): void {
    this.backlog ??= new ImagingBacklog(this.options.journal, this.options.spec.streams, this.window.ackedSeq);
  }

  get name(): string {
    return this.options.spec.name;
  }

  /** Send time of the oldest batch still awaiting a reply (ack timeouts). */
  get oldestSentAtMs(): number | undefined {
    // A part awaiting its BlobPartAck counts like a batch awaiting its ack (blob-shipper failure mode 7).
    const batch = this.window.oldestSentAtMs;
    const part = this.shipper?.pendingSinceMs;
    if (part === undefined) return batch;
    return batch === undefined ? part : Math.min(batch, part);
  }

  /**
   * Starts from the relay's durable high-water mark; nothing in flight. Returns
   * the integrity incident when the mark is beyond the journal head (the feed then
   * sends nothing), else null.
   */
  reset(highWaterSeq: number): MarkIncident | null {
    this.releasePermits();
    this.ahead = undefined;
    const incident = this.window.reset(highWaterSeq, this.options.journal.head);
    this.lastBatchAtMs = 0;
    // A new stream reads again from the relay's mark: the journal may hold it now. No wake: start() follows.
    this.holds.delete('trimmed');
    // ...and tries its instances again: the relay may take blobs now, the study may have been re-sent.
    this.holds.delete('imaging');
    this.backlog?.reset(this.window.ackedSeq);
    this.shippedInstances.clear();
    this.notifyIdle();
    return incident;
  }

  /**
   * Holds the feed back for `by` (reason), or lifts that party's hold (null).
   * A hold by the operator or the relay stops the hand-over at once: no send
   * starts after this returns; batches already handed over stay in flight
   * (whenIdle()). Lifting a hold wakes the pump, which goes on from where its
   * window stands once nobody holds it.
   */
  setHold(by: SettableFeedHolder, reason: string | null): void {
    if (reason === null) {
      this.holds.delete(by);
      this.wake();
      return;
    }
    const held = this.holds.get(by);
    this.holds.set(by, { reason, sinceMs: held?.reason === reason ? held.sinceMs : this.options.clock() });
  }

  /** Whether the feed may send, or who holds it back and why. */
  get gate(): FeedGate {
    for (const by of HOLDERS) {
      if (by === 'integrity') {
        const incident = this.window.incident;
        if (incident) return { state: 'held', by, reason: incident.reason };
        continue;
      }
      const held = this.holds.get(by);
      if (held) return { state: 'held', by, reason: held.reason, sinceMs: held.sinceMs };
    }
    return { state: 'open' };
  }

  /**
   * Resolves true once no batch is awaiting the relay's reply (or the stream
   * ended, taking them with it), false if that takes longer than `timeoutMs`.
   */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.isIdle) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean): void => {
        this.timers.clearTimeout(timer);
        this.idleWaiters.delete(onIdle);
        resolve(idle);
      };
      const onIdle = (): void => done(true);
      const timer = this.timers.setTimeout(() => done(false), timeoutMs);
      this.idleWaiters.add(onIdle);
    });
  }

  private get isIdle(): boolean {
    return !this.streaming || this.window.inFlightCount === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle) return;
    for (const waiter of [...this.idleWaiters]) waiter();
  }

  /**
   * Checked again right before the hand-over (failure mode 5): a hold by the
   * operator or the relay may land while a batch is prepared. The two others
   * are set only where a batch is read or the stream starts, never in between.
   */
  private get mayHandOver(): boolean {
    return !this.holds.has('operator') && !this.holds.has('relay');
  }

  /** Pumps into `stream` until its signal aborts. Call reset() first. */
  start(stream: PumpStream): void {
    this.streaming = true;
    stream.signal.addEventListener(
      'abort',
      () => {
        // What was in flight on this stream is no longer on the line as far as the gate is concerned.
        this.releasePermits();
        this.timers.clearTimeout(this.holdTimer);
        this.holdTimer = undefined;
        this.streaming = false;
        this.notifyIdle();
        this.wake();
      },
      { once: true },
    );
    void this.loop(stream);
  }

  /** Something may have changed: a commit, an ack, a policy change, a tick. */
  wake(): void {
    this.wakeSignal.notify();
  }

  onAck(highWaterSeq: number, duplicate: boolean): ReplyOutcome {
    const outcome = this.window.onAck(highWaterSeq);
    if (outcome.kind !== 'acked') return outcome;
    this.releaseOldestPermit();
    this.batchesAcked++;
    if (duplicate) this.duplicateAcks++;
    this.lastAckAtMs = this.options.clock();
    this.options.observeRoundTrip?.(Math.max(0, this.lastAckAtMs - outcome.batch.sentAtMs) / 1000);
    this.ackedBytes.record(outcome.batch.bytes);
    this.ackedEvents.record(outcome.batch.events);
    this.backlog?.acked(this.window.ackedSeq);
    if (this.window.inFlightCount === 0 && this.ahead === undefined) this.shippedInstances.clear();
    this.wake();
    this.notifyIdle();
    return outcome;
  }

  onNack(expectedSeq: number): ReplyOutcome {
    const outcome = this.window.onNack(expectedSeq);
    if (outcome.kind === 'violation') return outcome;
    this.releaseOldestPermit();
    if (outcome.kind === 'resend-from') this.nacks++;
    this.wake();
    this.notifyIdle();
    return outcome;
  }

  status(): FeedReplicationStatus {
    const gate = this.gate;
    const timetableReason = this.options.uplink.blockedReason(this.className);
    return {
      feed: this.options.spec.name,
      streams: this.options.spec.streams,
      class: this.className,
      ackedSeq: this.window.ackedSeq,
      sentSeq: this.window.nextAfter,
      inFlight: this.window.inFlightCount,
      lastAckAtMs: this.lastAckAtMs,
      eventsSent: this.eventsSent,
      bytesSent: this.bytesSent,
      compression: this.compression.choice,
      batchesAcked: this.batchesAcked,
      duplicateAcks: this.duplicateAcks,
      nacks: this.nacks,
      rateBytesPerSecond: this.ackedBytes.perSecond(),
      rateEventsPerSecond: this.ackedEvents.perSecond(),
      blocked: (gate.state === 'held' ? gate.reason : timetableReason) ?? null,
      blockedKind: feedBlockedKind(gate, timetableReason),
      paused: this.holds.has('operator'),
      policyVersion: this.options.spec.policyVersion,
      identifiers: this.identifierScan?.status() ?? null,
      integrity: this.window.incident,
      ...(this.backlog ? { imaging: this.imagingStatus(this.backlog) } : {}),
    };
  }

  private imagingStatus(backlog: ImagingBacklog): ImagingFeedStatus {
    const shipper = this.shipper;
    return {
      ...backlog.counts((sha256) => this.shippedInstances.has(sha256), shipper?.currentDoneBytes ?? 0),
      chunksSent: shipper?.chunksSent ?? 0,
      chunksPerSecond: shipper?.chunkRate.perSecond() ?? 0,
      chunkBytesSent: shipper?.chunkBytesSent ?? 0,
      dedupedBytes: shipper?.dedupedBytes ?? 0,
      etaSeconds: null,
      current: shipper?.current ? { ...shipper.current } : null,
      problem: this.imagingProblem ? { ...this.imagingProblem } : null,
    };
  }

  /** Holds the feed for its instances (failure mode 10); the problem keeps its first time while it stays the same. */
  private holdForImaging(problem: BlobProblem): void {
    const same = this.imagingProblem?.code === problem.code && this.imagingProblem.message === problem.message;
    this.imagingProblem = { ...problem, sinceMs: same ? this.imagingProblem!.sinceMs : this.options.clock() };
    this.setHold('imaging', `${problem.code}: ${problem.message}`);
    this.options.log?.error({ feed: this.options.spec.name, code: problem.code }, problem.message);
  }

  /**
   * Makes the batch's instances complete at the relay before it is handed over
   * (failure mode 8). Returns undefined when the batch may go, else sendNext's answer.
   */
  private async shipInstances(stream: PumpStream, after: number, instances: ImagingInstanceBody[]): Promise<boolean | undefined> {
    if (!this.shipper) {
      this.holdForImaging({ code: AgentErrorCode.BLOB_TRANSFER, message: 'this feed carries DICOM instances but the agent has no instance archive to read them from' });
      return false;
    }
    const outcome = await this.shipper.ship(
      instances,
      { blobs: stream.session.blobs, signal: stream.signal, stillWanted: () => this.window.nextAfter === after && this.mayHandOver },
      (instance) => {
        this.shippedInstances.add(instance.sha256);
        this.imagingProblem = null;
      },
    );
    switch (outcome.kind) {
      case 'complete':
        return undefined;
      case 'stopped':
        return false;
      case 'stale':
        return !stream.signal.aborted && this.mayHandOver;
      case 'held':
        this.holdForImaging(outcome.problem);
        return false;
    }
  }

  private async loop(stream: PumpStream): Promise<void> {
    try {
      while (!stream.signal.aborted) {
        if (!(await this.sendNext(stream)) && !stream.signal.aborted) await this.wakeSignal.wait();
      }
    } catch (error) {
      if (!stream.signal.aborted) stream.session.close(error as Error);
    }
  }

  /** Sends the feed's next batch if there is one worth sending; returns whether to try again at once. */
  private async sendNext(stream: PumpStream): Promise<boolean> {
    const { uplink, spec, clock } = this.options;
    if (this.gate.state === 'held' || !this.window.canSend || uplink.blockedReason(this.className) !== undefined) {
      if (!this.window.canSend && this.window.inFlightCount > 0) this.windowFullSinceSend = true;
      this.ahead = undefined;
      return false;
    }
    const after = this.window.nextAfter;
    // While a batch is on its way, a few new events wait for its ack (or for enough
    // of them to fill a batch) rather than leave alone: under a steady HL7 load each
    // group commit would otherwise become its own batch, with its own ledger fsync
    // and relay commit, taking the CPU the ACKs need. Costs at most one round trip,
    // and never more than SMALL_BATCH_HOLD_MS.
    if (this.window.inFlightCount > 0 && this.options.journal.head - after < SMALL_BATCH_SEQS && this.ahead?.after !== after) {
      const heldLeftMs = this.window.newestSentAtMs! + SMALL_BATCH_HOLD_MS - clock();
      if (heldLeftMs > 0) {
        this.wakeAfter(heldLeftMs);
        return false;
      }
    }
    // The batch read ahead is used only if it still follows what the relay expects.
    const batch = this.ahead?.after === after ? this.ahead : this.prepare(stream, after);
    this.ahead = undefined;
    if (!batch) return false;
    const { range, journalHeadSeq, completeThroughSeq } = batch;
    // Read the next range while this one is compressed on the thread pool and
    // handed over: the journal read and the compression overlap instead of taking
    // turns, which is what limits a backlog's drain rate on a small appliance. Two
    // loop turns later, so this batch's encoding and the next read are separate
    // tasks with sockets (HL7 ACKs) served between them.
    if (range.events.length > 0 && this.window.inFlightCount + 1 < this.options.maxInFlight) {
      await afterIo();
      await afterIo();
      if (!stream.signal.aborted && this.window.nextAfter === after) this.ahead = this.prepare(stream, range.lastSeq);
    }
    let encoded: ShapedPayload;
    try {
      encoded = await batch.encoded;
    } catch (error) {
      if (!(error instanceof InstanceUnshippable)) throw error;
      if (stream.signal.aborted || this.window.nextAfter !== after) return !stream.signal.aborted;
      this.holdForImaging(error.problem);
      return false;
    }
    if (stream.signal.aborted) return false;
    // A nack moved the window while the payload was compressed: read again from there.
    if (this.window.nextAfter !== after) return true;
    this.observeCompression(range, encoded);
    // Past the relay's limit after shaping: read again, smaller (the ratio just observed shrinks the budget).
    if (encoded.payload.length > stream.maxBatchBytes && range.events.length > 1) return true;
    if (encoded.instances.length > 0) {
      const shipped = await this.shipInstances(stream, after, encoded.instances);
      if (shipped !== undefined) return shipped;
      if (stream.signal.aborted) return false;
      if (this.window.nextAfter !== after) return true;
    }

    const askedAtMs = clock();
    const permit = await uplink.acquire({ feed: spec.name, class: this.className, bytes: encoded.payload.length }, stream.signal);
    if (!permit) return false;
    const lineBound = this.windowFullSinceSend || clock() - askedAtMs >= LINE_WAIT_MS;
    if (stream.signal.aborted || this.window.nextAfter !== after || !this.mayHandOver) {
      uplink.release(permit);
      return !stream.signal.aborted && this.mayHandOver;
    }
    let head: LedgerHead | undefined;
    try {
      // Durable before the hand-over: a batch that left always has its record.
      head = await this.recordEgress(range.firstSeq, range.lastSeq, range.events.length, encoded);
      // The leaves as sent, before the hand-over: a proof never misses an event that left.
      this.options.leaves?.recordLeaves(spec.name, encoded.leaves);
    } catch (error) {
      uplink.release(permit);
      throw error;
    }
    // Checked again after the record's fsync and, with the hand-over below, in
    // one synchronous step: a hold set meanwhile keeps this batch on disk.
    if (stream.signal.aborted || this.window.nextAfter !== after || !this.mayHandOver) {
      uplink.release(permit);
      return !stream.signal.aborted && this.mayHandOver;
    }
    const now = clock();
    this.window.sent({ firstSeq: range.firstSeq, lastSeq: range.lastSeq, events: range.events.length, bytes: encoded.payload.length, sentAtMs: now });
    if (range.events.length > 0) this.compression.observe(lineBound);
    this.windowFullSinceSend = false;
    this.permits.push(permit);
    this.lastBatchAtMs = now;
    this.eventsSent += range.events.length;
    this.bytesSent += encoded.payload.length;
    await stream.session.send({
      feed: spec.name,
      firstSeq: range.firstSeq,
      lastSeq: range.lastSeq,
      codec: this.options.codec,
      payload: encoded.payload,
      payloadSha256: encoded.payloadSha256,
      eventCount: range.events.length,
      uncompressedBytes: encoded.uncompressedBytes,
      policyVersion: spec.policyVersion,
      journalHeadSeq,
      completeThroughSeq,
      ...(head ? { ledgerHead: Buffer.from(head.hash, 'hex'), ledgerIndex: head.index } : {}),
    });
    return true;
  }

  /** Records a batch [firstSeq, lastSeq] of `events` events in the egress ledger; undefined without a ledger (tests). */
  private recordEgress(firstSeq: number, lastSeq: number, events: number, encoded: EncodedPayload, repair = false): Promise<LedgerHead> | undefined {
    return this.options.egress?.recordBatch({
      feed: this.options.spec.name,
      firstSeq,
      lastSeq,
      events,
      bytes: encoded.payload.length,
      uncompressedBytes: encoded.uncompressedBytes,
      payloadSha256: encoded.payloadSha256,
      policyVersion: this.options.spec.policyVersion,
      codec: this.options.codec,
      ...(repair ? { repair } : {}),
    });
  }

  /**
   * The events at `seqs` shaped and encoded again as a repair batch (Batch.repair)
   * with their new leaves: a proof found the relay lacking them below its mark.
   * Rejects with JournalTrimmedError when the journal no longer holds them.
   */
  async buildRepair(seqs: readonly number[]): Promise<{ batch: OutboundBatch; leaves: SentLeaf[] }> {
    const { journal, spec } = this.options;
    const wanted = new Set(seqs);
    const firstSeq = Math.min(...seqs);
    const lastSeq = Math.max(...seqs);
    const found: JournalEvent[] = [];
    let after = firstSeq - 1;
    while (after < lastSeq) {
      const range = journal.readRange(spec.streams, after, { ...this.options.limits, maxScan: lastSeq - after });
      if (!range) break;
      found.push(...range.events.filter((event) => wanted.has(event.seq)));
      after = range.lastSeq;
    }
    const range: JournalRange = { firstSeq, lastSeq, events: found };
    const { events } = await this.instancesLeaving(range, await this.shape(range));
    const encoded = await encodeEventsAsync(events, this.options.codec, this.compression.level);
    // A repair leaves the hospital like any batch: recorded, durably, before it is handed over.
    const head = await this.recordEgress(firstSeq, lastSeq, events.length, encoded, true);
    return {
      batch: {
        ...(head ? { ledgerHead: Buffer.from(head.hash, 'hex'), ledgerIndex: head.index } : {}),
        feed: spec.name,
        firstSeq,
        lastSeq,
        codec: this.options.codec,
        payload: encoded.payload,
        payloadSha256: encoded.payloadSha256,
        eventCount: events.length,
        uncompressedBytes: encoded.uncompressedBytes,
        policyVersion: spec.policyVersion,
        journalHeadSeq: Math.max(journal.head, lastSeq),
        completeThroughSeq: lastSeq,
        repair: true,
      },
      leaves: sentLeaves(events),
    };
  }

  /**
   * Reads the feed's next range after `after` and starts shaping and encoding it.
   * Undefined when there is nothing worth sending yet (or the feed had to stop).
   */
  private prepare(stream: PumpStream, after: number): PreparedBatch | undefined {
    const { journal, uplink, spec, clock } = this.options;
    const limits: ReadLimits = {
      ...this.options.limits,
      maxBytes: batchBodyBudget({
        rateBytesPerSecond: uplink.rateBytesPerSecond,
        maxInFlightBytes: uplink.maxInFlightBytes,
        compressionRatio: this.compressionRatio,
        // The relay's ceiling counts payload bytes: when payloads come out larger than
        // the journaled bodies (a policy encrypting or pseudonymising short values),
        // read that much less, with a margin.
        maxBytes: this.compressionRatio < 1 ? Math.max(1, Math.floor(stream.maxBatchBytes * this.compressionRatio * 0.8)) : stream.maxBatchBytes,
      }),
    };
    let range;
    // Read before the range: readRange never goes past the head it sees, which is at least this.
    const journalHeadSeq = journal.head;
    try {
      range = journal.readRange(spec.streams, after, limits);
    } catch (error) {
      if (!(error instanceof JournalTrimmedError)) throw error;
      // Never a silent skip: this feed stops, says why, and the others go on.
      this.setHold('trimmed', error.message);
      this.options.log?.error({ feed: spec.name, afterSeq: error.afterSeq, oldestRetainedSeq: error.oldestRetainedSeq }, error.message);
      return undefined;
    }
    if (!range) return undefined;
    range = this.capInstanceBytes(range);
    if (range.events.length === 0) {
      // A range holding none of the feed's events only moves the high-water mark.
      // Send it when the scan hit its limit (or the feed would never get past a
      // stretch of other streams), otherwise at most every emptyBatchIntervalMs.
      const scannedToLimit = range.lastSeq - after >= limits.maxScan;
      const quietLongEnough = clock() - this.lastBatchAtMs >= this.options.emptyBatchIntervalMs && this.window.inFlightCount === 0;
      if (!scannedToLimit && !quietLongEnough) return undefined;
    }
    // Shaped when the batch is built, so a policy change governs everything not yet sent;
    // encoded in a later task than the read, so neither holds the event loop for both.
    const read = range;
    const encoded = afterIo()
      .then(() => this.shape(read))
      .then((events) => this.instancesLeaving(read, events))
      .then(async ({ events, instances }) => ({
        ...(await encodeEventsAsync(events, this.options.codec, this.compression.level)),
        instances,
        leaves: this.options.leaves ? sentLeaves(events) : [],
      }));
    // A batch read ahead may be dropped unawaited (nack, hold, stream end).
    encoded.catch(() => undefined);
    // A range cut inside a transaction (a large one spans several batches) is
    // complete only up to the seq before it: the relay holds the rest back from
    // vendors until a later batch brings the transaction's last event.
    const openFirstSeq = journal.transactionSpanning(range.lastSeq);
    const completeThroughSeq = openFirstSeq === undefined ? range.lastSeq : openFirstSeq - 1;
    return { after, range, journalHeadSeq: Math.max(journalHeadSeq, range.lastSeq), completeThroughSeq, encoded };
  }

  /**
   * Cuts the range after the last instance that keeps it within
   * MAX_BATCH_INSTANCE_BYTES (always keeping the first): the rest goes in the
   * next batch (failure mode 8). A range without blob-ref events is returned as is.
   */
  private capInstanceBytes(range: JournalRange): JournalRange {
    let bytes = 0;
    for (let i = 0; i < range.events.length; i++) {
      const event = range.events[i]!;
      if (event.contentType !== BLOB_REF_CONTENT_TYPE) continue;
      this.watchImaging();
      let size = 0;
      try {
        size = parseImagingInstanceBody(event.body).size;
      } catch {
        // Reported where the batch is shaped (failure mode 10).
      }
      if (i > 0 && bytes + size > MAX_BATCH_INSTANCE_BYTES) {
        return { firstSeq: range.firstSeq, lastSeq: event.seq - 1, events: range.events.slice(0, i) };
      }
      bytes += size;
    }
    return range;
  }

  /**
   * The instances the batch names, as they leave: each blob-ref event's body is
   * parsed and, on a feed with `deidentify`, replaced by the de-identified
   * instance's body (the relay only ever receives that instance).
   */
  private async instancesLeaving(range: JournalRange, events: JournalEvent[]): Promise<{ events: JournalEvent[]; instances: ImagingInstanceBody[] }> {
    const instances: ImagingInstanceBody[] = [];
    if (!events.some((e) => e.contentType === BLOB_REF_CONTENT_TYPE)) return { events, instances };
    const { deidentify } = this.options.spec;
    const originals = new Map(range.events.map((e) => [e.seq, e]));
    const leaving: JournalEvent[] = [];
    for (const event of events) {
      if (event.contentType !== BLOB_REF_CONTENT_TYPE || event.op !== 'upsert') {
        leaving.push(event);
        continue;
      }
      let body: ImagingInstanceBody;
      try {
        // De-identification starts from the instance as archived, whatever the policy did to the body.
        body = parseImagingInstanceBody(deidentify ? (originals.get(event.seq) ?? event).body : event.body);
      } catch (error) {
        throw new InstanceUnshippable({
          code: AgentErrorCode.BLOB_TRANSFER,
          message: `the blob-ref event at seq ${event.seq} (key ${event.key}) does not describe an instance: ${(error as Error).message.slice(0, 300)}`,
        });
      }
      if (deidentify) {
        try {
          body = await deidentify(body);
        } catch (error) {
          throw new InstanceUnshippable({
            code: (error as { code?: string }).code ?? AgentErrorCode.BLOB_TRANSFER,
            message: `instance ${body.sopInstanceUid} of study ${body.studyUid} (seq ${event.seq}) could not be de-identified: ${(error as Error).message}`,
          });
        }
        // A key the policy left in clear is the original SOP Instance UID: it leaves as the de-identified one.
        const original = originals.get(event.seq);
        const key = original && event.key === original.key ? body.sopInstanceUid : event.key;
        leaving.push({ ...event, key, body: Buffer.from(JSON.stringify(body)) });
      } else {
        leaving.push(event);
      }
      instances.push(body);
    }
    return { events: leaving, instances };
  }

  /** The range's events as the feed's policy lets them leave; counts what its scan finds. */
  private async shape(range: JournalRange): Promise<JournalEvent[]> {
    const backup = this.options.spec.backup;
    if (backup && range.events.length > 0) return backup.seal(range);
    const policy = this.options.spec.policy;
    if (!policy || range.events.length === 0) return range.events;
    // Shaping is CPU work (HMAC, AES, rewriting): in slices, yielding between them,
    // so an HL7 ACK or an ingest answer never waits for a whole batch.
    const shaped: JournalEvent[] = [];
    const findings: PolicyResult['findings'] = [];
    const unreadableSeqs: number[] = [];
    for (let i = 0; i < range.events.length; i += POLICY_SLICE_EVENTS) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const result = applyPolicy(policy, range.events.slice(i, i + POLICY_SLICE_EVENTS));
      shaped.push(...result.events);
      findings.push(...result.findings);
      unreadableSeqs.push(...result.unreadableSeqs);
    }
    this.identifierScan?.record({ findings, unreadableSeqs }, range.lastSeq, this.options.clock());
    return shaped;
  }

  /** Keeps the body-to-payload ratio the batch budget needs (the rate counts payload bytes). */
  private observeCompression(range: JournalRange, encoded: EncodedPayload): void {
    if (range.events.length === 0 || encoded.payload.length === 0) return;
    let bodyBytes = 0;
    for (const event of range.events) bodyBytes += event.body.length;
    const ratio = bodyBytes / encoded.payload.length;
    this.compressionRatio = this.compressionRatio * (1 - COMPRESSION_RATIO_WEIGHT) + ratio * COMPRESSION_RATIO_WEIGHT;
  }

  /** One pending wake-up at a time; an ack or a commit usually wakes the pump sooner. */
  private wakeAfter(ms: number): void {
    if (this.holdTimer) return;
    this.holdTimer = this.timers.setTimeout(() => {
      this.holdTimer = undefined;
      this.wake();
    }, ms);
    this.holdTimer.unref?.();
  }

  private releaseOldestPermit(): void {
    const permit = this.permits.shift();
    if (permit) this.options.uplink.release(permit);
  }

  private releasePermits(): void {
    const permits = this.permits;
    this.permits = [];
    for (const permit of permits) this.options.uplink.release(permit);
  }
}

/**
 * Resolves once the event loop has polled its sockets again. Two setImmediates:
 * one queued from an I/O callback (an ack, a commit's listener) runs in the same
 * loop iteration, right after that callback, before any new socket data is read.
 */
function afterIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** An auto-reset event: notify() wakes every waiter, or the next wait() if none waits. */
class WakeSignal {
  private pending = false;
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    if (this.waiters.length === 0) {
      this.pending = true;
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
