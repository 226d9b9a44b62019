// The operator's control over what leaves, per feed: pause, resume, revoke,
// re-enable. Each action holds or releases the feed's pump, writes its ledger
// record and the feed's persisted state in one transaction, and (revoke,
// re-enable) asks the relay, whose answer is recorded too.
//
// Failure modes handled:
//  1. Pause must stop egress at once: the pump's hold is set before anything
//     else, synchronously; the ledger record follows; the call then waits (at
//     most settleTimeoutMs) for the batches already on the line to be acked.
//  2. The agent dies mid-action: the state is written with its record, so a
//     restart holds exactly the feeds whose pause or revoke was recorded; a
//     revoke or re-enable not yet answered is sent again after the restart.
//  3. The relay is unreachable during a revoke: the feed stays held in
//     `revoking`; the replicator sends the revoke after every Welcome until the
//     relay answers; the answer is recorded whenever it comes.
//  4. A relay that forgot a revoke (restored from a backup): its Welcome does
//     not list the feed as revoked, so the revoke is sent again and its answer
//     (what it deleted this time) recorded.
//  5. Two actions on one feed at once: serialised per feed.
//  6. The ledger cannot be written: the action fails, and a pause or revoke
//     keeps its hold (failing closed: nothing leaves unrecorded).
//  7. A purge (revoke with a signed receipt) to a relay that cannot sign one, or
//     while no stream is up: refused before anything is recorded. One left
//     unanswered at a restart is sent again as a purge (its 'purge' record says
//     so); a relay that meanwhile lost purge-v1 answers it as refused, and the
//     feed stays revoked.
import type { EgressLedger, JsonObject, LedgerRecord } from '../audit/index.js';
import type { FeedControlAnswer, FeedControlRequest } from '../replication/index.js';
import { systemTimers, type Timers } from '../../runtime/index.js';
import { PURGE_FEATURE } from '../../protocol/index.js';
import { purgeUnsupportedMessage } from '../replication/index.js';
import { FeedControlError } from './errors.js';
import { feedControlAllows, transitionFeedControl, type FeedControlEvent, type FeedControlState } from './feed-control-state.js';
import { FeedControlStore, type FeedControlRow } from './feed-control-store.js';
import type { SqliteDatabase } from '../store/index.js';

/** How long pause waits for batches already handed over to be acknowledged, in ms. */
export const DEFAULT_PAUSE_SETTLE_MS = 1_000;
/** How long revoke and re-enable wait for the relay's answer before answering "pending", in ms. */
export const DEFAULT_RELAY_ANSWER_TIMEOUT_MS = 10_000;
/**
 * How long purge waits for the relay's receipt before answering "pending", in ms: the relay scans the
 * feed for its roots and erases before it answers (about 11 s for 1,000,000 events, measured).
 */
export const DEFAULT_PURGE_ANSWER_TIMEOUT_MS = 100_000;

/** What a link tells the feed controls, as it happens. */
export interface FeedLinkListener {
  /** The relay answered a revoke or reinstate, possibly on a later stream than the request's. */
  onControlAnswer(relay: string, answer: FeedControlAnswer): void;
  /** A Welcome arrived; `revoked` are the feeds the relay holds as revoked. Called before any batch is sent. */
  onWelcome(relay: string, revoked: ReadonlySet<string>): void;
}

/** What a replicator offers the feed controls (Replicator implements it). */
export interface FeedLink {
  hasFeed(feed: string): boolean;
  /** Tells `listener` of the relay's answers and Welcomes from now on. */
  listen(listener: FeedLinkListener): void;
  holdFeed(feed: string, reason: string): void;
  releaseFeed(feed: string): void;
  feedStatus(feed: string): { sentSeq: number; ackedSeq: number; inFlight: number } | undefined;
  whenFeedIdle(feed: string, timeoutMs: number): Promise<boolean>;
  requestControl(request: FeedControlRequest): void;
  /** The features the relay listed in its Welcome; undefined while no stream is up (a link without it: purge refused). */
  relayFeatures?(): ReadonlySet<string> | undefined;
}

/** A configured feed as the controls see it. */
export interface ControlledFeed {
  name: string;
  relay: string;
  /** The policy in force (0 = pass-through); a change since the last start is recorded. */
  policyVersion: number;
  /** A digest of the policy text, when the policy engine offers one; a change is recorded too. */
  policyDigest?: string | null;
}

export interface FeedControlLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface FeedControlOptions {
  db: SqliteDatabase;
  ledger: EgressLedger;
  feeds: readonly ControlledFeed[];
  /**
   * The replicators that send the feeds, built before this object: it holds
   * their feeds as persisted and listens to them here, so it is whole once
   * constructed. None = no feed can be acted on (reading state only).
   */
  links?: readonly FeedLink[];
  log: FeedControlLogger;
  /** Default DEFAULT_PAUSE_SETTLE_MS. */
  settleTimeoutMs?: number;
  /** Default DEFAULT_RELAY_ANSWER_TIMEOUT_MS. */
  answerTimeoutMs?: number;
  clock?: () => number;
  /** Default: the system timers. */
  timers?: Timers;
}

/** Who asked, for the record: "cli", "http 10.1.2.3", "dashboard". */
export interface ControlRequestContext {
  reason?: string;
  origin?: string;
}

/** What an action did, as the admin endpoint answers it. */
export interface FeedControlResult {
  feed: string;
  relay: string;
  state: FeedControlState;
  /** False when the feed already was in the state asked for. */
  changed: boolean;
  /** The ledger record of the action; null when nothing was recorded. */
  ledgerIndex: number | null;
  /** The feed's journal position handed to the transport, and acknowledged, when the action finished. */
  sentSeq: number;
  ackedSeq: number;
  /** Batches still awaiting the relay's reply. */
  inFlight: number;
  /** How long the action took, in ms. */
  tookMs: number;
  /** The relay's answer to a revoke or re-enable, as recorded; null while it has not answered. */
  relayAnswer: { ledgerIndex: number; details: LedgerRecord['details'] } | null;
  /** One line for the operator. */
  message: string;
}

const HOLD_REASONS: Record<Exclude<FeedControlState, 'active'>, string> = {
  paused: 'paused by the operator',
  revoking: 'revoked by the operator; waiting for the relay to confirm the deletion',
  revoked: 'revoked by the operator',
  reinstating: 're-enabled by the operator; waiting for the relay to confirm',
};
/** The hold while a purge waits for the relay's receipt (state revoking). */
const PURGING_HOLD = 'purged by the operator; waiting for the relay\'s signed receipt';

interface AnswerWaiter {
  kind: FeedControlAnswer['kind'];
  resolve: (record: LedgerRecord) => void;
}

export class FeedControl implements FeedLinkListener {
  private readonly store: FeedControlStore;
  private readonly ledger: EgressLedger;
  private readonly clock: () => number;
  private readonly timers: Timers;
  private readonly feeds: Map<string, ControlledFeed>;
  private readonly rows: Map<string, FeedControlRow>;
  private readonly links = new Map<string, FeedLink>();
  /** Feeds the relay holds as revoked although this agent does not (its state was lost). */
  private readonly revokedAtRelayOnly = new Set<string>();
  /**
   * Whether the relay holds the feed revoked, as it last said (its answer to a revoke or re-enable, or its
   * Welcome). Until it has said anything since this agent started, the state stands for it: only a revoke
   * the relay confirmed makes a feed 'revoked'.
   */
  private readonly revokedAtRelayNow = new Map<string, boolean>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly answerWaiters = new Map<string, Set<AnswerWaiter>>();

  constructor(private readonly options: FeedControlOptions) {
    this.store = new FeedControlStore(options.db);
    this.ledger = options.ledger;
    this.clock = options.clock ?? Date.now;
    this.timers = options.timers ?? systemTimers;
    this.feeds = new Map(options.feeds.map((f) => [f.name, f]));
    this.rows = this.store.all();
    const links = options.links ?? [];
    for (const feed of this.feeds.keys()) {
      const link = links.find((l) => l.hasFeed(feed));
      if (link) this.links.set(feed, link);
    }
    // Before any replicator starts: a feed paused or revoked before the agent started stays held.
    for (const [feed, reason] of this.holds()) this.links.get(feed)?.holdFeed(feed, reason);
    for (const link of links) link.listen(this);
  }

  /** The holds the replicators start with (applied at construction): every feed not active, with why. */
  holds(): Map<string, string> {
    const holds = new Map<string, string>();
    for (const feed of this.feeds.keys()) {
      const state = this.stateOf(feed);
      if (state !== 'active') holds.set(feed, HOLD_REASONS[state]);
    }
    return holds;
  }

  /**
   * Call before the replicators start: records each feed whose policy changed
   * since it was last recorded, and queues revokes / re-enables left unanswered.
   */
  async start(): Promise<void> {
    for (const feed of this.feeds.values()) {
      const row = this.rows.get(feed.name);
      const digest = feed.policyDigest ?? null;
      if (row && row.policyVersion === feed.policyVersion && row.policyDigest === digest) continue;
      const at = this.clock();
      await this.ledger.append(
        {
          type: 'policy-change',
          feed: feed.name,
          details: {
            relay: feed.relay,
            fromVersion: row?.policyVersion ?? null,
            toVersion: feed.policyVersion,
            ...(row?.policyDigest || digest ? { fromDigest: row?.policyDigest ?? null, toDigest: digest } : {}),
          },
        },
        () => this.store.setPolicy(feed.name, feed.policyVersion, digest, at),
      );
      this.rows.set(feed.name, { ...(row ?? this.defaultRow(feed.name)), policyVersion: feed.policyVersion, policyDigest: digest, updatedAtMs: at });
      this.options.log.info({ feed: feed.name, from: row?.policyVersion ?? null, to: feed.policyVersion }, 'feed policy recorded in the egress ledger');
    }
    for (const feed of this.feeds.keys()) {
      const state = this.stateOf(feed);
      const reason = this.rows.get(feed)?.reason ?? '';
      // A purge left unanswered is sent again as a purge, so its receipt still comes (the relay's is idempotent).
      if (state === 'revoking') this.request(feed, this.store.lastRemovalRequest(feed) ?? 'revoke', reason, null);
      if (state === 'reinstating') this.request(feed, 'reinstate', reason, null);
    }
  }

  /** The feed's control state (configured feeds; others are active). */
  stateOf(feed: string): FeedControlState {
    return this.rows.get(feed)?.state ?? 'active';
  }

  /**
   * What status shows per feed. `revokedAtRelay`: the relay holds the feed revoked (a revoke it confirmed, or
   * one it reported at connect); with state active or paused, a revoke this agent has no record of.
   */
  feedStatus(feed: string): { state: FeedControlState; reason: string | null; since: number | null; revokedAtRelay: boolean } {
    const row = this.rows.get(feed);
    const state = row?.state ?? 'active';
    return { state, reason: row?.reason ?? null, since: row?.updatedAtMs ?? null, revokedAtRelay: this.revokedAtRelayNow.get(feed) ?? state === 'revoked' };
  }

  /** Stops all egress of `feed`; resolves once nothing more is handed over and what was is acknowledged (or settleTimeoutMs passed). */
  pause(feed: string, context: ControlRequestContext = {}): Promise<FeedControlResult> {
    return this.allowedAction(feed, 'pause', (state) => `feed ${feed} is ${state}, not active: there is nothing to pause${state === 'revoked' ? ' (re-enable it with wardline agent reenable)' : ''}`, async (state, link, started) => {
      // First, synchronously: from here on no batch of this feed is handed over.
      link.holdFeed(feed, HOLD_REASONS.paused);
      let record: LedgerRecord | null = null;
      if (state === 'active') {
        const figures = this.figures(feed);
        record = await this.recordState(feed, 'pause', context, { sentSeq: figures.sentSeq, ackedSeq: figures.ackedSeq, inFlight: figures.inFlight });
      }
      const settled = await link.whenFeedIdle(feed, this.options.settleTimeoutMs ?? DEFAULT_PAUSE_SETTLE_MS);
      const figures = this.figures(feed);
      const message = settled
        ? `feed ${feed} paused: nothing more leaves; the relay has acknowledged everything sent (up to seq ${figures.ackedSeq})`
        : `feed ${feed} paused: nothing more is sent; ${figures.inFlight} batch(es) handed over before the pause are still unacknowledged`;
      return this.result(feed, state === 'active', record, started, null, message);
    });
  }

  /** Lets a paused feed send again, from the relay's high-water mark. */
  resume(feed: string, context: ControlRequestContext = {}): Promise<FeedControlResult> {
    return this.allowedAction(feed, 'resume', (state) => `feed ${feed} is ${state}: resume only continues a paused feed (a revoked one is re-enabled with wardline agent reenable)`, async (state, link, started) => {
      if (state === 'active') {
        link.releaseFeed(feed);
        return this.result(feed, false, null, started, null, `feed ${feed} was not paused`);
      }
      const figures = this.figures(feed);
      // Recorded before the release, so nothing leaves ahead of its record.
      const record = await this.recordState(feed, 'resume', context, { ackedSeq: figures.ackedSeq });
      link.releaseFeed(feed);
      return this.result(feed, true, record, started, null, `feed ${feed} resumed from seq ${figures.sentSeq + 1}`);
    });
  }

  /**
   * Stops the feed and has the relay delete it. Resolves with the relay's
   * answer once recorded, or (relayAnswer null) after answerTimeoutMs with the
   * revoke still pending: it is sent again after every reconnect until answered.
   */
  revoke(feed: string, context: ControlRequestContext = {}): Promise<FeedControlResult> {
    return this.serialise(feed, async () => {
      const started = this.clock();
      const link = this.linkOf(feed);
      link.holdFeed(feed, HOLD_REASONS.revoking);
      const figures = this.figures(feed);
      const reason = context.reason ?? 'revoked by the operator';
      const record = await this.recordState(feed, 'revoke', { ...context, reason }, { sentSeq: figures.sentSeq, ackedSeq: figures.ackedSeq });
      const answer = this.waitForAnswer(feed, 'revoke');
      this.request(feed, 'revoke', reason, record);
      const recorded = await answer;
      const message = recorded
        ? `feed ${feed} revoked: the relay deleted ${String(recorded.details.eventsDeleted)} events (${String(recorded.details.bytesDeleted)} bytes) and no longer serves it`
        : `feed ${feed} is held and its revoke is pending: the relay has not answered yet; the agent sends it again whenever the link is up`;
      return this.result(feed, true, record, started, recorded, message);
    });
  }

  // --- Purge ---
  /**
   * Stops the feed for good and has the relay delete everything of it and sign
   * a receipt: records 'purge' (state revoking: held, nothing resends), sends it,
   * and records the relay's answer as 'purged' with the receipt text and its
   * signature (state revoked). Refused, with nothing recorded, while no stream to
   * the relay is up or when the relay does not offer PURGE_FEATURE.
   */
  purge(feed: string, context: ControlRequestContext & { requestedBy?: string } = {}): Promise<FeedControlResult> {
    return this.serialise(feed, async () => {
      const started = this.clock();
      const link = this.linkOf(feed);
      const relay = this.feeds.get(feed)!.relay;
      const features = link.relayFeatures?.();
      if (features === undefined) {
        throw new FeedControlError(`feed ${feed} was not purged: the link to relay ${relay} is not up, and a purge needs the relay's signed answer; nothing was recorded — try again once the agent is connected (wardline agent status)`, 'conflict', feed);
      }
      if (!features.has(PURGE_FEATURE)) throw new FeedControlError(`feed ${feed} was not purged: ${purgeUnsupportedMessage(relay)}; nothing was recorded`, 'conflict', feed);
      link.holdFeed(feed, PURGING_HOLD);
      const figures = this.figures(feed);
      const reason = context.reason ?? 'purged by the operator';
      const record = await this.recordState(feed, 'purge', { ...context, reason }, { sentSeq: figures.sentSeq, ackedSeq: figures.ackedSeq });
      // recordState held it as a revoke; the status says what it waits for.
      link.holdFeed(feed, PURGING_HOLD);
      const answer = this.waitForAnswer(feed, 'purge', this.options.answerTimeoutMs ?? DEFAULT_PURGE_ANSWER_TIMEOUT_MS);
      const head = { index: record.index, hash: record.hash };
      link.requestControl({ kind: 'purge', feed, reason, requestedBy: context.requestedBy ?? context.origin ?? '', ledgerHead: Buffer.from(head.hash, 'hex'), ledgerIndex: head.index });
      const recorded = await answer;
      let message: string;
      if (!recorded) message = `feed ${feed} is held and its purge is pending: the relay has not answered yet; the agent sends it again whenever the link is up (run purge again later for the receipt)`;
      else if (recorded.details.error) message = `feed ${feed} is revoked here, but the relay refused the purge: ${String(recorded.details.error)}`;
      else message = `feed ${feed} purged: the relay deleted ${String(recorded.details.eventsDeleted)} events (${String(recorded.details.bytesDeleted)} bytes) and signed a receipt, kept in the egress ledger (record ${recorded.index})`;
      return this.result(feed, true, record, started, recorded, message);
    });
  }

  /** Re-enables a revoked feed: the relay serves it again from its mark at revocation; the feed then sends. */
  reenable(feed: string, context: ControlRequestContext = {}): Promise<FeedControlResult> {
    return this.allowedAction(feed, 'reenable', (state) => `feed ${feed} is ${state}, not revoked: there is nothing to re-enable`, async (state, _link, started) => {
      const reason = context.reason ?? 're-enabled by the operator';
      const record = await this.recordState(feed, 'reenable', { ...context, reason }, {});
      const answer = this.waitForAnswer(feed, 'reinstate');
      this.request(feed, 'reinstate', reason, record);
      const recorded = await answer;
      const message = recorded
        ? `feed ${feed} re-enabled: the relay serves it again and it continues after seq ${String(recorded.details.highWaterSeq)}`
        : `feed ${feed} re-enable is pending: the relay has not answered yet; the feed stays held until it does`;
      return this.result(feed, true, record, started, recorded, message);
    });
  }

  /** FeedLinkListener: records the relay's answer and moves the state on. */
  readonly onControlAnswer = (relay: string, answer: FeedControlAnswer): void => {
    void this.recordAnswer(relay, answer).catch((error: unknown) =>
      this.options.log.error({ err: error, feed: answer.feed, relay }, 'cannot record the relay\'s answer in the egress ledger; it is recorded when the relay answers again'),
    );
  };

  /** FeedLinkListener: reconciles what the relay holds as revoked with what this agent does. */
  readonly onWelcome = (relay: string, revoked: ReadonlySet<string>): void => {
    for (const feed of this.feeds.values()) {
      if (feed.relay !== relay) continue;
      const state = this.stateOf(feed.name);
      this.revokedAtRelayNow.set(feed.name, revoked.has(feed.name));
      if (revoked.has(feed.name)) {
        if (state === 'active' || state === 'paused') {
          this.revokedAtRelayOnly.add(feed.name);
          this.options.log.error({ feed: feed.name, relay }, 'the relay holds this feed as revoked, though this agent has no such record; the feed is stopped (wardline agent reenable to send it again)');
        }
        continue;
      }
      this.revokedAtRelayOnly.delete(feed.name);
      if (state === 'revoked') {
        // The relay forgot the revoke (restored from a backup, or replaced): it may hold the data again.
        this.options.log.warn({ feed: feed.name, relay }, 'the relay does not hold this revoked feed as revoked; sending the revoke again');
        const head = this.ledger.head();
        this.linkOf(feed.name).requestControl({
          kind: 'revoke',
          feed: feed.name,
          reason: this.rows.get(feed.name)?.reason ?? 'revoked by the operator',
          ...(head ? { ledgerHead: Buffer.from(head.hash, 'hex'), ledgerIndex: head.index } : {}),
        });
      }
    }
  };

  private async recordAnswer(relay: string, answer: FeedControlAnswer): Promise<void> {
    const feed = answer.feed;
    if (!this.feeds.has(feed)) return;
    const current = this.stateOf(feed);
    if (answer.kind === 'purge') return this.recordPurgeAnswer(relay, answer, current);
    const next = transitionFeedControl(current, answer.kind === 'revoke' ? 'relay-revoked' : 'relay-reinstated');
    const details: JsonObject =
      answer.kind === 'revoke'
        ? {
            relay,
            eventsDeleted: answer.eventsDeleted,
            bytesDeleted: answer.bytesDeleted,
            highWaterSeq: answer.highWaterSeq,
            revokedAt: new Date(answer.revokedAtMs).toISOString(),
            alreadyRevoked: answer.alreadyRevoked,
          }
        : { relay, highWaterSeq: answer.highWaterSeq, wasRevoked: answer.wasRevoked };
    const at = this.clock();
    const reason = this.rows.get(feed)?.reason ?? null;
    const record = await this.ledger.append({ type: answer.kind === 'revoke' ? 'revoked' : 'reinstated', feed, details }, () => {
      if (next !== current) this.store.setState(feed, next, reason, at);
    });
    this.setRow(feed, next, reason, at);
    if (answer.kind === 'reinstate') this.revokedAtRelayOnly.delete(feed);
    this.revokedAtRelayNow.set(feed, answer.kind === 'revoke');
    const link = this.links.get(feed);
    if (next === 'active') link?.releaseFeed(feed);
    else if (next !== current) link?.holdFeed(feed, HOLD_REASONS[next]);
    this.options.log.info({ feed, answer: details, ledgerIndex: record.index }, answer.kind === 'revoke' ? 'the relay revoked the feed' : 'the relay re-enabled the feed');
    const waiters = this.answerWaiters.get(feed);
    for (const waiter of [...(waiters ?? [])]) {
      if (waiter.kind === answer.kind) waiter.resolve(record);
    }
  }

  /**
   * Records the relay's purge answer as 'purged': the receipt text exactly as
   * signed and its signature (so the receipt is checked later from the ledger
   * alone), and the figures read from it. A refusal is recorded too; the feed
   * stays revoked here either way (nothing of it is sent again).
   */
  private async recordPurgeAnswer(relay: string, answer: Extract<FeedControlAnswer, { kind: 'purge' }>, current: FeedControlState): Promise<void> {
    const feed = answer.feed;
    const next = transitionFeedControl(current, 'relay-purged');
    let details: JsonObject;
    if (answer.error) details = { relay, error: answer.error };
    else {
      const receipt = JSON.parse(answer.receipt) as { purgedAt?: string; feeds?: { eventsDeleted?: number; bytesDeleted?: number; treeSize?: number; merkleRoot?: string }[] };
      const entry = receipt.feeds?.[0] ?? {};
      details = {
        relay,
        eventsDeleted: entry.eventsDeleted ?? 0,
        bytesDeleted: entry.bytesDeleted ?? 0,
        treeSize: entry.treeSize ?? 0,
        merkleRoot: entry.merkleRoot ?? '',
        purgedAt: receipt.purgedAt ?? '',
        receipt: answer.receipt,
        receiptSignature: answer.receiptSignature,
      };
    }
    const at = this.clock();
    const reason = this.rows.get(feed)?.reason ?? null;
    const record = await this.ledger.append({ type: 'purged', feed, details }, () => {
      if (next !== current) this.store.setState(feed, next, reason, at);
    });
    this.setRow(feed, next, reason, at);
    if (!answer.error) this.revokedAtRelayNow.set(feed, true);
    if (next !== current && next !== 'active') this.links.get(feed)?.holdFeed(feed, HOLD_REASONS[next]);
    this.options.log.info({ feed, ledgerIndex: record.index, error: answer.error || undefined }, answer.error ? 'the relay refused the purge' : 'the relay purged the feed; its signed receipt is in the egress ledger');
    for (const waiter of [...(this.answerWaiters.get(feed) ?? [])]) if (waiter.kind === 'purge') waiter.resolve(record);
  }

  /** Writes the action's record and the feed's new state (the table's answer; checked by the caller) in one transaction. */
  private async recordState(feed: string, type: FeedControlEvent, context: ControlRequestContext, figures: Record<string, number>): Promise<LedgerRecord> {
    const state = transitionFeedControl(this.stateOf(feed), type, this.revokedAtRelayOnly.has(feed));
    const at = this.clock();
    const reason = context.reason ?? (state === 'active' ? null : HOLD_REASONS[state]);
    const record = await this.ledger.append(
      {
        type,
        feed,
        details: { relay: this.feeds.get(feed)!.relay, reason, ...(context.origin ? { origin: context.origin } : {}), ...figures },
      },
      () => this.store.setState(feed, state, reason, at),
    );
    this.setRow(feed, state, reason, at);
    if (state !== 'active') this.links.get(feed)?.holdFeed(feed, HOLD_REASONS[state]);
    this.options.log.info({ feed, action: type, reason, origin: context.origin, ledgerIndex: record.index }, `feed ${type} recorded`);
    return record;
  }

  private request(feed: string, kind: FeedControlRequest['kind'], reason: string, record: LedgerRecord | null): void {
    const head = record ? { index: record.index, hash: record.hash } : this.ledger.head();
    this.linkOf(feed).requestControl({ kind, feed, reason, ...(head ? { ledgerHead: Buffer.from(head.hash, 'hex'), ledgerIndex: head.index } : {}) });
  }

  /** The recorded answer, or null after answerTimeoutMs. */
  private waitForAnswer(feed: string, kind: FeedControlAnswer['kind'], timeoutMs = this.options.answerTimeoutMs ?? DEFAULT_RELAY_ANSWER_TIMEOUT_MS): Promise<LedgerRecord | null> {
    return new Promise((resolve) => {
      const waiters = this.answerWaiters.get(feed) ?? new Set<AnswerWaiter>();
      this.answerWaiters.set(feed, waiters);
      const done = (record: LedgerRecord | null): void => {
        this.timers.clearTimeout(timer);
        waiters.delete(waiter);
        resolve(record);
      };
      const waiter: AnswerWaiter = { kind, resolve: done };
      const timer = this.timers.setTimeout(() => done(null), timeoutMs);
      waiters.add(waiter);
    });
  }

  private result(feed: string, changed: boolean, record: LedgerRecord | null, startedAtMs: number, answer: LedgerRecord | null, message: string): FeedControlResult {
    const figures = this.figures(feed);
    return {
      feed,
      relay: this.feeds.get(feed)!.relay,
      state: this.stateOf(feed),
      changed,
      ledgerIndex: record?.index ?? null,
      sentSeq: figures.sentSeq,
      ackedSeq: figures.ackedSeq,
      inFlight: figures.inFlight,
      tookMs: this.clock() - startedAtMs,
      relayAnswer: answer ? { ledgerIndex: answer.index, details: answer.details } : null,
      message,
    };
  }

  private figures(feed: string): { sentSeq: number; ackedSeq: number; inFlight: number } {
    const status = this.links.get(feed)?.feedStatus(feed);
    return { sentSeq: status?.sentSeq ?? 0, ackedSeq: status?.ackedSeq ?? 0, inFlight: status?.inFlight ?? 0 };
  }

  /**
   * The start of pause, resume and re-enable: one action at a time per feed, on a
   * configured feed, and only from a state the transition table allows (else a
   * conflict worded by `refusal`).
   */
  private allowedAction(
    feed: string,
    event: 'pause' | 'resume' | 'reenable',
    refusal: (state: FeedControlState) => string,
    act: (state: FeedControlState, link: FeedLink, startedMs: number) => Promise<FeedControlResult>,
  ): Promise<FeedControlResult> {
    return this.serialise(feed, async () => {
      const started = this.clock();
      const link = this.linkOf(feed);
      const state = this.stateOf(feed);
      // Only a re-enable may start from a feed the relay alone holds revoked (WHILE_REVOKED_AT_RELAY).
      if (!feedControlAllows(state, event, event === 'reenable' && this.revokedAtRelayOnly.has(feed))) throw new FeedControlError(refusal(state), 'conflict', feed);
      return act(state, link, started);
    });
  }

  private linkOf(feed: string): FeedLink {
    const link = this.links.get(feed);
    if (!link || !this.feeds.has(feed)) {
      throw new FeedControlError(`no feed named ${JSON.stringify(feed)} is configured (feeds: ${[...this.feeds.keys()].join(', ') || 'none'})`, 'unknown-feed', feed);
    }
    return link;
  }

  private setRow(feed: string, state: FeedControlState, reason: string | null, atMs: number): void {
    this.rows.set(feed, { ...(this.rows.get(feed) ?? this.defaultRow(feed)), state, reason, updatedAtMs: atMs });
  }

  private defaultRow(feed: string): FeedControlRow {
    return { feed, state: 'active', reason: null, policyVersion: null, policyDigest: null, updatedAtMs: 0 };
  }

  /** Runs actions on one feed one after another. */
  private serialise<T>(feed: string, action: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(feed) ?? Promise.resolve();
    const next = previous.then(action, action);
    this.queues.set(
      feed,
      next.catch(() => undefined),
    );
    return next;
  }
}
