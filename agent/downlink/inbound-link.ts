// The agent's end of the downlink on one relay's replication stream: inbound
// events in (journaled, then acknowledged), receipts out (recorded in the egress
// ledger, sent, removed when the relay acknowledges them), and the backlog the
// relay reports. The replicator owns the stream and hands each session to
// attach(); this class never opens or retries one.
//
// Failure modes handled:
//  1. An ack is the promise that an event is durable: each delivery is accepted
//     (journaled, fsynced) before its channels are acknowledged, and deliveries
//     are taken one at a time in arrival order, so an ack never covers an event
//     of a later delivery still being journaled.
//  2. The intake fails (disk full, agent.db error): nothing of the delivery is
//     acknowledged and the stream is closed (InboundIntakeError), so the relay
//     sends it again after the reconnect; the intake's dedupe by id makes the
//     resend of what was journaled before harmless.
//  3. The stream ends while a delivery is being journaled: the journal keeps
//     what it took; the ack is not written (the session is gone) and the relay
//     resends, which is deduplicated and then acknowledged on the new stream.
//  4. A receipt's ack lost with its stream: the row stays in the outbox and the
//     receipt is sent again after the next Welcome (the relay stores receipts
//     idempotently), under the ledger head of its first sending: it is recorded
//     in the egress ledger once (the record and the outbox row's note of it
//     commit in one transaction).
//  5. The relay refuses a receipt (ReceiptAck.error): resending cannot change
//     its mind; the refusal is logged (WL_A041) and the row removed.
//  6. Receipts enqueued while the previous ones are still being recorded: one
//     sender per session walks the outbox in row order, so none is sent twice on
//     a stream and none is recorded twice.
import type { InboundReceipt } from '../../protocol/index.js';
import type { ReceiptRecorder } from '../audit/index.js';
import { InboundIntakeError, InboundReceiptRefusedError, type InboundBacklogEntry, type InboundChannel, type ReceiptAckInfo, type RelaySession } from '../replication/index.js';
import type { InboundEventIn, InboundIntake } from './downlink-ports.js';
import type { PendingReceipt, SqliteReceiptOutbox } from './receipt-outbox.js';

export interface InboundLinkLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface InboundLinkOptions {
  /** The relay's name in agent.yaml (relays[].name): the intake's and the outbox's key. */
  relay: string;
  intake: InboundIntake;
  outbox: SqliteReceiptOutbox;
  /** Where each receipt is recorded before it first leaves; none = sent without a ledger head. */
  ledger?: ReceiptRecorder;
  log: InboundLinkLogger;
  /** ms since the epoch; default Date.now (the backlog's report time). */
  clock?: () => number;
}

/** What the relay last said waits for one channel, and when it said so. */
export interface ChannelBacklogReport {
  waiting: number;
  oldestReceivedAtMs: number | null;
  reportedAtMs: number;
}

/** Receipts read from the outbox per query while sending. */
const OUTBOX_PAGE = 256;

/** One streaming session's share of the link. */
class AttachedSession {
  /** Deliveries are taken strictly one after another (failure mode 1). */
  intakeChain: Promise<void> = Promise.resolve();
  /** The highest channel_seq acknowledged per channel on this stream. */
  readonly acked = new Map<string, number>();
  /** The last outbox row sent on this stream (failure mode 6). */
  sentThroughRowId = 0;
  sending = false;
  sendAgain = false;

  constructor(
    readonly session: RelaySession,
    readonly inbound: InboundChannel,
    readonly signal: AbortSignal,
  ) {}

  get over(): boolean {
    return this.signal.aborted;
  }
}

export class InboundLink {
  private readonly clock: () => number;
  private readonly backlog = new Map<string, ChannelBacklogReport>();
  private current: AttachedSession | undefined;
  /** Ledger records under way, by outbox row: a new stream's resend waits for the same record, never makes a second. */
  private readonly recording = new Map<number, Promise<{ index: number; head: Buffer } | undefined>>();
  private readonly unsubscribe: () => void;

  constructor(private readonly options: InboundLinkOptions) {
    this.clock = options.clock ?? Date.now;
    this.unsubscribe = options.outbox.onEnqueue((relay) => {
      if (relay === options.relay && this.current) this.sendReceipts(this.current);
    });
  }

  /**
   * Runs the downlink on a session just welcomed (its `inbound` present) until
   * `signal` aborts: resends every receipt still in the outbox, then each as it
   * is enqueued. A session without `inbound` is ignored.
   */
  attach(session: RelaySession, signal: AbortSignal): void {
    if (!session.inbound) return;
    const attached = new AttachedSession(session, session.inbound, signal);
    this.current = attached;
    signal.addEventListener('abort', () => this.current === attached && (this.current = undefined), { once: true });
    this.sendReceipts(attached);
  }

  /** A delivery arrived on the attached session: journal it, then acknowledge it (failure modes 1–3). */
  onDelivery(events: InboundEventIn[]): void {
    const attached = this.current;
    if (!attached || events.length === 0) return;
    attached.intakeChain = attached.intakeChain.then(() => this.take(attached, events));
  }

  /** Resolves once every delivery received so far on the current session was handled (tests, shutdown). */
  async idle(): Promise<void> {
    await this.current?.intakeChain;
  }

  private async take(attached: AttachedSession, events: InboundEventIn[]): Promise<void> {
    if (attached.over) return;
    try {
      await this.options.intake.accept(this.options.relay, events);
    } catch (error) {
      const channels = [...new Set(events.map((e) => e.channel))].join(', ');
      const failure = new InboundIntakeError(channels, `cannot journal ${events.length} inbound event(s) of channel ${channels} from relay ${this.options.relay}: ${(error as Error).message}`, {
        cause: error,
      });
      this.options.log.error({ relay: this.options.relay, channel: channels, events: events.length, code: failure.code, err: (error as Error).message }, failure.message);
      // Nothing acknowledged: the relay resends after the reconnect (failure mode 2).
      attached.session.close(failure);
      return;
    }
    if (attached.over) return;
    const highest = new Map<string, number>();
    for (const event of events) highest.set(event.channel, Math.max(highest.get(event.channel) ?? 0, event.channelSeq));
    for (const [channel, seq] of highest) {
      const through = Math.max(seq, attached.acked.get(channel) ?? 0);
      attached.acked.set(channel, through);
      attached.inbound.ack(channel, through);
    }
  }

  /** The relay answered a receipt: it is stored there (or refused, failure mode 5); the row goes. */
  onReceiptAck(ack: ReceiptAckInfo): void {
    if (ack.error) {
      const refused = new InboundReceiptRefusedError(ack.id, ack.error);
      this.options.log.warn({ relay: this.options.relay, id: ack.id, outcome: ack.outcome, code: refused.code, reason: ack.error }, refused.message);
    }
    this.options.outbox.remove(this.options.relay, ack.id, ack.outcome);
  }

  /** The relay reported what waits there per channel. */
  onBacklog(entries: InboundBacklogEntry[]): void {
    const reportedAtMs = this.clock();
    for (const entry of entries) this.backlog.set(entry.channel, { waiting: entry.waiting, oldestReceivedAtMs: entry.oldestReceivedAtMs, reportedAtMs });
  }

  /** What the relay last reported for `channel`; null before any report. */
  backlogOf(channel: string): ChannelBacklogReport | null {
    return this.backlog.get(channel) ?? null;
  }

  /** Receipts waiting in the outbox for this relay. */
  pendingReceipts(): number {
    return this.options.outbox.count(this.options.relay);
  }

  /** Stops listening to the outbox. */
  close(): void {
    this.unsubscribe();
    this.current = undefined;
  }

  /** Sends what the outbox holds past what this stream already sent; one sender per stream (failure mode 6). */
  private sendReceipts(attached: AttachedSession): void {
    if (attached.sending) {
      attached.sendAgain = true;
      return;
    }
    attached.sending = true;
    void this.drainOutbox(attached)
      .catch((error: unknown) => {
        // The ledger could not record a receipt: it stays in the outbox and is tried after the next Welcome.
        this.options.log.error({ relay: this.options.relay, err: (error as Error).message }, 'cannot send inbound receipts: recording in the egress ledger failed; they wait in the outbox');
      })
      .finally(() => {
        attached.sending = false;
        if (attached.sendAgain && !attached.over) {
          attached.sendAgain = false;
          this.sendReceipts(attached);
        }
      });
  }

  private async drainOutbox(attached: AttachedSession): Promise<void> {
    for (;;) {
      attached.sendAgain = false;
      const page = this.options.outbox.pending(this.options.relay, attached.sentThroughRowId, OUTBOX_PAGE);
      if (page.length === 0) return;
      // A page's records are submitted at once: the ledger's group commit makes them one transaction and one fsync.
      const ledgers = await Promise.all(page.map((row) => (row.ledger ? Promise.resolve(row.ledger) : this.recordOnce(row))));
      if (attached.over) return;
      page.forEach((row, i) => {
        const ledger = ledgers[i];
        attached.inbound.sendReceipt({ ...row.receipt, ...(ledger ? { ledgerHead: ledger.head, ledgerIndex: ledger.index } : {}) });
        attached.sentThroughRowId = row.rowId;
      });
    }
  }

  private recordOnce(row: PendingReceipt): Promise<{ index: number; head: Buffer } | undefined> {
    let recording = this.recording.get(row.rowId);
    if (!recording) {
      recording = this.record(row).finally(() => this.recording.delete(row.rowId));
      this.recording.set(row.rowId, recording);
    }
    return recording;
  }

  /** Records the receipt before it first leaves; the row notes the record in the same transaction (failure mode 4). */
  private async record(row: PendingReceipt): Promise<{ index: number; head: Buffer } | undefined> {
    const ledger = this.options.ledger;
    if (!ledger) return undefined;
    const receipt: InboundReceipt = row.receipt;
    const head = await ledger.recordReceipt(
      { relay: this.options.relay, channel: receipt.channel, id: receipt.id, outcome: receipt.outcome, final: receipt.final, attempts: receipt.attempts },
      (h) => this.options.outbox.markLedger(row.rowId, { index: h.index, head: Buffer.from(h.hash, 'hex') }),
    );
    return { index: head.index, head: Buffer.from(head.hash, 'hex') };
  }
}
