// The relay's side of the downlink on the Replicate stream, pinned with raw gRPC
// clients against a relay with its real SQLite inbound store: deliveries in
// order within the window, acks that hold across streams and restarts, resends
// after a cut, receipts, backlog, and what protocol 1 gets.
import { status as Status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, INBOUND_FEATURE, type InboundReceipt } from '../../protocol/index.js';
import { ERROR_CODE_TRAILER, RelayErrorCode } from '../../cloud-relay/index.js';
import { AGENT_PROTOCOL_1_PROBLEM } from '../../cloud-relay/status/index.js';
import { InboundTestRelay, TestRelay, inboundChannel } from './relay-harness.js';

const bookings = inboundChannel('bookings');
const payments = inboundChannel('payments');

function receipt(id: string, overrides: Partial<InboundReceipt> = {}): InboundReceipt {
  return { id, channel: 'bookings', outcome: 'accepted', final: true, code: 'AA', reason: '', reference: 'APT-1', attempts: 1, decidedAtMs: Date.now(), ...overrides };
}

const seqsOf = (events: { channelSeq?: unknown }[]) => events.map((e) => Number(e.channelSeq));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('relay downlink on the Replicate stream', () => {
  let relay: InboundTestRelay;

  beforeEach(async () => {
    relay = await new InboundTestRelay({ inboundBacklogIntervalMs: 300 }).start();
  });

  afterEach(async () => {
    await relay.close();
  });

  it('lists inbound-v1 to protocol 2 and sends a declared channel its events oldest first, several per message, with what the vendor wrote', async () => {
    const { stream, welcome } = await relay.connect('h1', [bookings, payments]);
    expect(welcome.protocolVersion).toBe(2);
    expect(welcome.features).toContain(INBOUND_FEATURE);
    const written = await relay.write('h1', 'bookings', 20);
    await relay.write('h1', 'payments', 2);

    const { events, messages } = await stream.deliveredUntilQuiet();
    const booked = events.filter((e) => e.channel === 'bookings');
    expect(seqsOf(booked)).toEqual(range(1, 20));
    expect(seqsOf(events.filter((e) => e.channel === 'payments'))).toEqual([1, 2]);
    // Written while the agent was connected, one by one: the wake coalesces them into fewer messages.
    expect(messages).toBeLessThan(22);
    const first = booked[0]!;
    expect(first).toMatchObject({ id: written[0]!.id, channel: 'bookings', key: written[0]!.key, contentType: 'json', vendor: 'app', idempotencyKey: written[0]!.idempotencyKey });
    expect(Buffer.from(first.body!).toString()).toBe(written[0]!.body.toString());
    expect(Number(first.expiresAtMs)).toBe(written[0]!.expiresAtMs);

    // Written while the agent was away (its Hello declared the channel before): one delivery carries several.
    const { stream: h2 } = await relay.connect('h2', [bookings]);
    h2.end();
    await h2.status;
    await relay.write('h2', 'bookings', 30);
    const { stream: again } = await relay.connect('h2', [bookings]);
    const burst = await again.nextOf('inboundDelivery');
    expect(burst.inboundDelivery!.events!.length).toBeGreaterThan(1);
    expect(seqsOf(burst.inboundDelivery!.events!)).toEqual(range(1, burst.inboundDelivery!.events!.length));
  });

  it('never sends an acked event again: not on the next stream, not after a restart', async () => {
    const { stream } = await relay.connect('h1', [bookings]);
    await relay.write('h1', 'bookings', 5);
    expect(seqsOf((await stream.deliveredUntilQuiet()).events)).toEqual(range(1, 5));
    stream.ackInbound('bookings', 5);
    await until(async () => (await relay.inbound.ackedSeq('h1', 'bookings')) === 5);
    stream.end();
    await stream.status;

    const { stream: next } = await relay.connect('h1', [bookings]);
    expect((await next.deliveredUntilQuiet()).events).toEqual([]);
    await relay.write('h1', 'bookings', 1);
    expect(seqsOf((await next.deliveredUntilQuiet()).events)).toEqual([6]);
    next.ackInbound('bookings', 6);
    await until(async () => (await relay.inbound.ackedSeq('h1', 'bookings')) === 6);

    await relay.restart();
    const { stream: afterRestart } = await relay.connect('h1', [bookings]);
    expect((await afterRestart.deliveredUntilQuiet()).events).toEqual([]);
    expect((await relay.inbound.get('h1', (await relay.write('h1', 'bookings', 1))[0]!.id))!.channelSeq).toBe(7);
    expect(seqsOf((await afterRestart.deliveredUntilQuiet()).events)).toEqual([7]);
  });

  it('after a cut mid-window, the next stream resends exactly the unacked events', async () => {
    const { stream } = await relay.connect('h1', [bookings]);
    await relay.write('h1', 'bookings', 10);
    expect(seqsOf((await stream.deliveredUntilQuiet()).events)).toEqual(range(1, 10));
    stream.ackInbound('bookings', 4);
    await until(async () => (await relay.inbound.ackedSeq('h1', 'bookings')) === 4);
    stream.call.cancel();
    await stream.status;

    const { stream: next } = await relay.connect('h1', [bookings]);
    const resent = (await next.deliveredUntilQuiet()).events;
    expect(seqsOf(resent)).toEqual(range(5, 10));
    expect(await relay.metrics()).toMatch(/wardline_relay_inbound_events_total\{result="resent"\} 6/);
    // The agent deduplicated and acks through 10 (more than this stream has sent when the ack is an old one): held to what was sent.
    next.ackInbound('bookings', 10);
    await until(async () => (await relay.inbound.ackedSeq('h1', 'bookings')) === 10);
  });

  it('holds an ack beyond what the stream sent to what it sent: an unsent event is never marked journaled', async () => {
    const { stream } = await relay.connect('h1', [bookings]);
    await relay.write('h1', 'bookings', 3);
    expect(seqsOf((await stream.deliveredUntilQuiet()).events)).toEqual([1, 2, 3]);
    stream.ackInbound('bookings', 2 ** 40);
    await until(async () => (await relay.inbound.ackedSeq('h1', 'bookings')) === 3);
    await relay.write('h1', 'bookings', 1);
    expect(seqsOf((await stream.deliveredUntilQuiet()).events)).toEqual([4]);
  });

  it('never has more than 256 events unacknowledged per channel; an ack opens room for exactly as many', async () => {
    const { stream } = await relay.connect('h1', [bookings]);
    await relay.inbound.declareChannels('h1', [bookings], Date.now());
    await relay.write('h1', 'bookings', 400);
    const first = (await stream.deliveredUntilQuiet(600)).events;
    expect(seqsOf(first)).toEqual(range(1, 256));
    expect((await relay.status()).hospitals.find((h) => h.id === 'h1')!.inbound!.channels[0]).toMatchObject({ channel: 'bookings', waiting: 400, sentUnacked: 256 });
    stream.ackInbound('bookings', 100);
    expect(seqsOf((await stream.deliveredUntilQuiet(600)).events)).toEqual(range(257, 356));
    stream.ackInbound('bookings', 356);
    expect(seqsOf((await stream.deliveredUntilQuiet(600)).events)).toEqual(range(357, 400));
  });

  it('never has more than 1 MiB of bodies unacknowledged per channel', async () => {
    const { stream } = await relay.connect('h1', [bookings]);
    await relay.write('h1', 'bookings', 15, { bodyBytes: 100 * 1024 });
    // 10 × 100 KiB fit in 1 MiB, an 11th would not.
    expect(seqsOf((await stream.deliveredUntilQuiet(600)).events)).toEqual(range(1, 10));
    stream.ackInbound('bookings', 3);
    expect(seqsOf((await stream.deliveredUntilQuiet(600)).events)).toEqual([11, 12, 13]);
  });

  it('stores receipts and acks them; a resend is acked again, a second final is refused, an unknown id is refused', async () => {
    const { stream } = await relay.connect('h1', [bookings]);
    const [event] = await relay.write('h1', 'bookings', 1);
    await stream.deliveredUntilQuiet();
    stream.ackInbound('bookings', 1);

    stream.sendReceipt(receipt(event!.id, { outcome: 'quarantined', final: false, code: 'AE', reason: 'no such slot type', attempts: 10 }));
    expect((await stream.nextOf('receiptAck')).receiptAck).toMatchObject({ id: event!.id, outcome: 'quarantined', final: false, error: '' });
    stream.sendReceipt(receipt(event!.id));
    expect((await stream.nextOf('receiptAck')).receiptAck).toMatchObject({ id: event!.id, outcome: 'accepted', final: true, error: '' });
    expect(await relay.inbound.get('h1', event!.id)).toMatchObject({ state: 'accepted', receipt: expect.objectContaining({ outcome: 'accepted', reference: 'APT-1' }) });

    // The same receipt again (the agent's resend after a cut): acked, stored once.
    stream.sendReceipt(receipt(event!.id));
    expect((await stream.nextOf('receiptAck')).receiptAck).toMatchObject({ id: event!.id, outcome: 'accepted', final: true, error: '' });
    expect(await relay.inbound.receipts('h1', 'bookings', 'app', 0, 10)).toHaveLength(2);

    stream.sendReceipt(receipt(event!.id, { outcome: 'refused', code: 'AR', reason: 'slot already taken', attempts: 2 }));
    const conflict = (await stream.nextOf('receiptAck')).receiptAck!;
    expect(conflict).toMatchObject({ id: event!.id, outcome: 'refused', final: true });
    expect(conflict.error).toMatch(new RegExp(`^${RelayErrorCode.RECEIPT_CONFLICT}: .*the first final receipt stands$`));
    expect((await relay.inbound.get('h1', event!.id))!.state).toBe('accepted');

    stream.sendReceipt(receipt('ibaaaaaaaaaaaaaaaaaa'));
    expect((await stream.nextOf('receiptAck')).receiptAck!.error).toMatch(new RegExp(`^${RelayErrorCode.RECEIPT_UNKNOWN}: `));
    stream.sendReceipt(receipt(event!.id, { outcome: 'accepted', final: false }));
    expect((await stream.nextOf('receiptAck')).receiptAck!.error).toMatch(new RegExp(`^${RelayErrorCode.RECEIPT_INVALID}: .*accepted is final`));
    stream.sendReceipt(receipt('not-an-id'));
    expect((await stream.nextOf('receiptAck')).receiptAck!.error).toContain(RelayErrorCode.RECEIPT_INVALID);

    // The stream goes on, and the status counts what was stored.
    const channel = (await relay.status()).hospitals.find((h) => h.id === 'h1')!.inbound!.channels[0]!;
    expect(channel.receipts).toEqual({ accepted: 1, refused: 0, expired: 0, quarantined: 1 });
    const metrics = await relay.metrics();
    expect(metrics).toMatch(/wardline_relay_inbound_receipts_total\{outcome="accepted"\} 1\n/);
    expect(metrics).toMatch(/wardline_relay_inbound_receipts_total\{outcome="quarantined"\} 1\n/);
    expect(metrics).toMatch(/wardline_relay_inbound_events_total\{result="acked"\} 1\n/);
    expect(metrics).toMatch(/wardline_relay_inbound_waiting\{hospital="h1",channel="bookings"\} 0\n/);
  });

  it('reports the backlog per declared channel when it changed, no more often than its interval', async () => {
    const { stream } = await relay.connect('h1', [bookings]);
    expect((await stream.nextOf('inboundBacklog')).inboundBacklog!.channels).toEqual([expect.objectContaining({ channel: 'bookings', waiting: 0 })]);
    const written = await relay.write('h1', 'bookings', 3);
    const backlogs: { at: number; waiting: number; oldest: number }[] = [];
    const start = Date.now();
    while (Date.now() - start < 2_000) {
      const message = await stream.nextOf('inboundBacklog', 2_000).catch(() => undefined);
      if (!message) break;
      const c = message.inboundBacklog!.channels![0]!;
      backlogs.push({ at: Date.now(), waiting: Number(c.waiting), oldest: Number(c.oldestReceivedAtMs) });
      if (Number(c.waiting) === 3) break;
    }
    expect(backlogs.at(-1)).toMatchObject({ waiting: 3, oldest: written[0]!.receivedAtMs });
    stream.ackInbound('bookings', 3);
    const drained = (await stream.nextOf('inboundBacklog', 2_000)).inboundBacklog!.channels![0]!;
    expect(Number(drained.waiting)).toBe(0);
    expect(Number(drained.oldestReceivedAtMs)).toBe(0);
    // Nothing moved: nothing more is sent.
    await expect(stream.nextOf('inboundBacklog', 1_000)).rejects.toThrow(/no message within/);
  });

  it('gives a protocol 1 stream nothing inbound, and the status says why the events wait', async () => {
    // Declared once by an upgraded agent, then the hospital runs an older one again.
    await relay.inbound.declareChannels('h1', [bookings], Date.now());
    await relay.write('h1', 'bookings', 2);
    const { stream, welcome } = await relay.connect('h1', [bookings], { protocolVersion: 1 });
    expect(welcome.protocolVersion).toBe(1);
    expect(welcome.features).not.toContain(INBOUND_FEATURE);
    const quiet = await stream.deliveredUntilQuiet(700);
    expect(quiet.events).toEqual([]);
    expect(stream.passedOver.filter((m) => m.body === 'inboundBacklog')).toEqual([]);

    const status = await relay.status();
    expect(status.connectedAgents).toEqual([expect.objectContaining({ hospital: 'h1', protocolVersion: 1, inboundChannels: null, problem: AGENT_PROTOCOL_1_PROBLEM })]);
    const h1 = status.hospitals.find((h) => h.id === 'h1')!;
    expect(h1.inbound).toMatchObject({ problem: AGENT_PROTOCOL_1_PROBLEM, channels: [expect.objectContaining({ channel: 'bookings', waiting: 2, sentUnacked: 0 })] });
    const page = await relay.statusPage();
    expect(page).toContain('agent speaks protocol 1: inbound events wait at the relay until the agent is upgraded');
    expect(page).toMatch(/data-channel="bookings">bookings<\/span><\/td><td class="num"><span class="warn" data-figure="inbound-waiting">2</);
    expect(await relay.metrics()).toMatch(/wardline_relay_inbound_waiting\{hospital="h1",channel="bookings"\} 2\n/);

    // An inbound message on a protocol 1 stream ends it.
    stream.ackInbound('bookings', 2);
    const ended = await stream.status;
    expect(ended.code).toBe(Status.INVALID_ARGUMENT);
    expect(ended.details).toContain(ErrorCode.PROTOCOL_VIOLATION);
    expect(ended.details).toContain('protocol 1');
    expect(await relay.inbound.ackedSeq('h1', 'bookings')).toBe(0);

    // A protocol 2 agent of the same hospital shows no problem and gets them.
    const { stream: upgraded } = await relay.connect('h1', [bookings]);
    expect(seqsOf((await upgraded.deliveredUntilQuiet()).events)).toEqual([1, 2]);
    const after = await relay.status();
    expect(after.connectedAgents).toEqual([expect.objectContaining({ protocolVersion: 2, inboundChannels: ['bookings'], problem: null })]);
    expect(after.hospitals.find((h) => h.id === 'h1')!.inbound!.problem).toBeNull();
  });

  it('ends a stream with an inbound message before Hello, or an ack for a channel it did not declare', async () => {
    const early = relay.agentStream();
    early.ackInbound('bookings', 1);
    const status = await early.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toContain('inboundAck before Hello');

    const { stream } = await relay.connect('h1', [bookings]);
    stream.ackInbound('payments', 1);
    const ended = await stream.status;
    expect(ended.code).toBe(Status.INVALID_ARGUMENT);
    expect(ended.details).toContain('inboundAck for channel "payments", which this stream\'s Hello did not declare');
  });

  it.each([
    [{ name: 'bad name!' }, 'inbound channel 1 ("bad name!") with an invalid name'],
    [{ defaultTtlMs: 0 }, 'with defaultTtlMs 0'],
    [{ maxTtlMs: 400 * 24 * 60 * 60 * 1000 }, 'with maxTtlMs 34560000000: expected 1 to 2592000000 (30 days)'],
    [{ defaultTtlMs: 8 * 24 * 60 * 60 * 1000 }, 'expected 1 to its maxTtlMs 604800000'],
    [{ contentTypes: ['xml'] }, 'with content types ["xml"]'],
    [{ keyPath: 'patient.id' }, 'with keyPath "patient.id"'],
  ])('ends the stream on a bad declaration %j, naming it', async (bad, words) => {
    const stream = relay.agentStream();
    stream.hello('h1', [], { inboundChannels: [inboundChannel('bookings', bad as object)] });
    const status = await stream.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toContain(ErrorCode.PROTOCOL_VIOLATION);
    expect(status.details).toContain(words);
    expect(await relay.inbound.channels('h1')).toEqual([]);
  });

  it('a relay acting as protocol 1 with an inbound store lists no inbound-v1 to a protocol 1 agent', async () => {
    const old = await new InboundTestRelay({ protocolVersion: 1 }).start();
    try {
      const { stream, welcome } = await old.connect('h1', [bookings], { protocolVersion: 1 });
      expect(welcome.protocolVersion).toBe(1);
      expect(welcome.features).not.toContain(INBOUND_FEATURE);
      expect(await old.inbound.channels('h1')).toEqual([]);
      stream.end();
      expect((await old.status()).hospitals[0]!.inbound).toBeNull();
    } finally {
      await old.close();
    }
  });
});

describe('startRelay({ protocolVersion: 1 }): a relay from before the downlink', () => {
  const relay = new TestRelay(undefined, { protocolVersion: 1 });
  beforeEach(() => relay.start().then(() => undefined));
  afterEach(() => relay.relay?.stop());

  it('refuses a protocol 2 Hello with the old message and lists no inbound-v1 to protocol 1', async () => {
    const stream = relay.agentStream();
    stream.hello('h1', ['adt'], { inboundChannels: [bookings] });
    const status = await stream.status;
    expect(status.code).toBe(Status.FAILED_PRECONDITION);
    expect(status.details).toContain('agent speaks replication protocol 2 but this relay speaks 1; upgrade the older side');
    expect(status.metadata.get(ERROR_CODE_TRAILER)).toEqual([ErrorCode.PROTOCOL_VERSION]);

    const v1 = relay.agentStream();
    v1.hello('h1', ['adt'], { protocolVersion: 1 });
    const welcome = (await v1.next()).welcome!;
    expect(welcome.protocolVersion).toBe(1);
    expect(welcome.features).not.toContain(INBOUND_FEATURE);
    v1.end();
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
