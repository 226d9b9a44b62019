// The InboundSink contract, run unchanged against every sink on a real peer: an
// MLLP HIS on a socket, a webhook on node:http, an inbox table in PostgreSQL and
// MariaDB. What the peer decides is classified right (accepted with its reference,
// refused with its reason, retryable counted, sinkDown when it cannot be reached,
// unmappable before anything is sent), a redelivery of the same id is applied
// once by the peer, and an inbox row goes awaiting → settled or withdrawn.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundSink, SinkDelivery, SinkOutcome } from '../../agent/downlink/sinks/index.js';

/** What the peer does with an id's delivery. */
export type PeerAnswer =
  | { kind: 'accept'; reference?: string }
  | { kind: 'refuse'; reason: string }
  /** A transient error of the peer's (AE, HTTP 500). */
  | { kind: 'error' }
  /** Takes the message and never answers. */
  | { kind: 'hang' }
  /** Drops the connection without answering. */
  | { kind: 'close' };

export interface InboundSinkHarness {
  /** The sink answers `awaiting` and the peer decides afterwards (an inbox table). */
  decidesLater: boolean;
  /** Answers the peer can give; the suite skips the others. */
  answers: ReadonlySet<PeerAnswer['kind']>;
  /** A sink to the live peer; `answerTimeoutMs` bounds the wait for an answer where the kind has one. */
  sink(options?: { answerTimeoutMs?: number }): Promise<InboundSink>;
  /** A sink to an address where nothing listens. */
  sinkToNowhere(): Promise<InboundSink>;
  /** Scripts (or, when decidesLater, makes) the peer's answer for an id. */
  answer(id: string, answer: PeerAnswer): Promise<void>;
  /** How many times the peer has taken the id in (a duplicate it recognises does not count). */
  applied(id: string): Promise<number>;
  /** A body of this kind the sink cannot turn into what the peer takes, if there is one. */
  unmappable?: { contentType: string; body: Buffer; reason: RegExp };
  /** The row's status at the peer (inbox tables). */
  status?(id: string): Promise<string | undefined>;
  /** A sink whose setup the peer refuses (an inbox table that does not exist). */
  misconfiguredSink?(): Promise<InboundSink>;
  close(): Promise<void>;
}

/** A booking every sink's mapping fits. */
export const BOOKING_BODY = {
  booking: { id: 'B-1001', start: '202612041000', service: 'CARDIO-OPD' },
  patient: { id: 'P-1001', family: '张', given: '三' },
};

let counter = 0;
/** A fresh inbound id (INBOUND_ID_PATTERN). */
export function inboundId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let n = Date.now() * 1000 + counter++;
  let tail = '';
  for (let i = 0; i < 18; i++) {
    tail += alphabet[n % 32];
    n = Math.floor(n / 32);
  }
  return `ib${tail}`;
}

export function delivery(overrides: Partial<SinkDelivery> = {}): SinkDelivery {
  const now = Date.now();
  return {
    id: inboundId(),
    channel: 'bookings',
    key: 'P-1001',
    contentType: 'json',
    body: Buffer.from(JSON.stringify(BOOKING_BODY)),
    vendor: 'patient-app',
    receivedAtMs: now - 1000,
    expiresAtMs: now + 3_600_000,
    attempt: 1,
    ...overrides,
  };
}

export function describeInboundSinkContract(name: string, makeHarness: () => Promise<InboundSinkHarness>): void {
  describe(`InboundSink contract: ${name}`, () => {
    let harness: InboundSinkHarness;
    let sink: InboundSink;

    beforeAll(async () => {
      harness = await makeHarness();
      sink = await harness.sink();
    });

    afterAll(async () => {
      await sink?.close();
      await harness?.close();
    });

    /** Delivers and, where the peer decides later, lets it decide and settles. */
    async function outcomeOf(d: SinkDelivery, answer: PeerAnswer, on: InboundSink = sink): Promise<SinkOutcome> {
      if (!harness.decidesLater) {
        await harness.answer(d.id, answer);
        return on.deliver(d);
      }
      const first = await on.deliver(d);
      expect(first).toEqual({ kind: 'awaiting', code: 'new' });
      expect(await on.settle!([d.id])).toEqual(new Map());
      await harness.answer(d.id, answer);
      const settled = await on.settle!([d.id]);
      const outcome = settled.get(d.id);
      expect(outcome, 'settle reports the decision').toBeDefined();
      return outcome!;
    }

    it('accepted, with the reference the system gave', async () => {
      const d = delivery();
      const outcome = await outcomeOf(d, { kind: 'accept', reference: 'APT-5566' });
      expect(outcome).toMatchObject({ kind: 'accepted', reference: 'APT-5566' });
      expect(await harness.applied(d.id)).toBe(1);
    });

    it('refused, with the system\'s reason', async () => {
      const d = delivery();
      const outcome = await outcomeOf(d, { kind: 'refuse', reason: 'slot already taken' });
      expect(outcome).toMatchObject({ kind: 'refused', reason: 'slot already taken' });
    });

    it('a redelivery of the same id is taken in once by the system', async () => {
      const d = delivery();
      expect(await outcomeOf(d, { kind: 'accept', reference: 'APT-1' })).toMatchObject({ kind: 'accepted' });
      const again = await sink.deliver({ ...d, attempt: 2 });
      expect(again.kind).toBe('accepted');
      expect(await harness.applied(d.id)).toBe(1);
    });

    it('a transient error of the system is retryable and counted', async (context) => {
      if (!harness.answers.has('error')) return context.skip();
      const outcome = await outcomeOf(delivery(), { kind: 'error' });
      expect(outcome).toMatchObject({ kind: 'retryable', sinkDown: false });
      expect((outcome as { reason: string }).reason.length).toBeGreaterThan(0);
    });

    it('no answer in time is retryable and counted; the next delivery is answered', async (context) => {
      if (!harness.answers.has('hang')) return context.skip();
      const quick = await harness.sink({ answerTimeoutMs: 300 });
      try {
        const started = Date.now();
        const outcome = await outcomeOf(delivery(), { kind: 'hang' }, quick);
        expect(outcome).toMatchObject({ kind: 'retryable', code: 'timeout', sinkDown: false });
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(await outcomeOf(delivery(), { kind: 'accept' }, quick)).toMatchObject({ kind: 'accepted' });
      } finally {
        await quick.close();
      }
    });

    it('a connection dropped before the answer is sinkDown; the sink reconnects for the next', async (context) => {
      if (!harness.answers.has('close')) return context.skip();
      const outcome = await outcomeOf(delivery(), { kind: 'close' });
      expect(outcome).toMatchObject({ kind: 'retryable', sinkDown: true });
      expect(await outcomeOf(delivery(), { kind: 'accept' })).toMatchObject({ kind: 'accepted' });
    });

    it('a system that cannot be reached is sinkDown (not counted against the event)', async () => {
      const nowhere = await harness.sinkToNowhere();
      try {
        const outcome = await nowhere.deliver(delivery());
        expect(outcome).toMatchObject({ kind: 'retryable', sinkDown: true });
        expect((outcome as { reason: string }).reason).toMatch(/reach|refused|ECONNREFUSED/i);
      } finally {
        await nowhere.close();
      }
    });

    it('a body the sink cannot map is unmappable, and nothing reaches the system', async (context) => {
      const unmappable = harness.unmappable;
      if (unmappable === undefined) return context.skip();
      const d = delivery({ contentType: unmappable.contentType, body: unmappable.body });
      const outcome = await sink.deliver(d);
      expect(outcome.kind).toBe('unmappable');
      expect((outcome as { reason: string }).reason).toMatch(unmappable.reason);
      expect(await harness.applied(d.id)).toBe(0);
    });

    it('many deliveries at once are each answered as their own', async () => {
      const batch = Array.from({ length: 12 }, () => delivery());
      const outcomes = await Promise.all(batch.map((d, i) => outcomeOf(d, i % 3 === 2 ? { kind: 'refuse', reason: `no ${i}` } : { kind: 'accept', reference: `R-${i}` })));
      outcomes.forEach((outcome, i) => {
        if (i % 3 === 2) expect(outcome).toMatchObject({ kind: 'refused', reason: `no ${i}` });
        else expect(outcome).toMatchObject({ kind: 'accepted', reference: `R-${i}` });
      });
      for (const [i, d] of batch.entries()) if (i % 3 !== 2) expect(await harness.applied(d.id)).toBe(1);
    });

    it('awaiting → withdraw at TTL: a row still waiting is expired, one the system decided is not', async (context) => {
      if (!harness.decidesLater) return context.skip();
      const waiting = delivery();
      expect(await sink.deliver(waiting)).toMatchObject({ kind: 'awaiting' });
      expect(await sink.withdraw!(waiting.id)).toBe(true);
      expect(await harness.status!(waiting.id)).toBe('expired');
      expect(await sink.withdraw!(waiting.id), 'withdrawing again is harmless').toBe(true);
      expect(await sink.settle!([waiting.id])).toEqual(new Map());

      const decided = delivery();
      expect(await sink.deliver(decided)).toMatchObject({ kind: 'awaiting' });
      await harness.answer(decided.id, { kind: 'accept', reference: 'APT-9' });
      expect(await sink.withdraw!(decided.id)).toBe(false);
      expect(await harness.status!(decided.id)).toBe('applied');
      expect((await sink.settle!([decided.id])).get(decided.id)).toMatchObject({ kind: 'accepted', reference: 'APT-9' });
      // A redelivery of a decided row answers its decision at once.
      expect(await sink.deliver({ ...decided, attempt: 2 })).toMatchObject({ kind: 'accepted', reference: 'APT-9' });
      expect(await sink.withdraw!(delivery().id), 'an id never delivered has nothing to take back').toBe(true);
    });

    it('a setup the system refuses is sinkDown naming WL_A047 and the fix', async (context) => {
      if (harness.misconfiguredSink === undefined) return context.skip();
      const broken = await harness.misconfiguredSink();
      try {
        const outcome = await broken.deliver(delivery());
        expect(outcome).toMatchObject({ kind: 'retryable', code: 'WL_A047', sinkDown: true });
        expect((outcome as { reason: string }).reason).toMatch(/createTable/);
      } finally {
        await broken.close();
      }
    });
  });
}
