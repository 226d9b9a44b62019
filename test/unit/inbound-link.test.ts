// The downlink's link on a replicator, against the shared fake relay (kept
// honest by the RelayTransport contract) with a real agent.db: the real journal,
// the real intake with its delivery rows, the real receipt outbox and egress ledger.
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, receiptStreamName, type InboundChannelDeclaration, type InboundReceipt } from '../../protocol/index.js';
import { EgressLedger, INBOUND_RECEIPT_RECORD_TYPE } from '../../agent/audit/index.js';
import { DeliveryStore, JournalInboundIntake, SqliteReceiptOutbox, type InboundEventIn, type InboundIntake } from '../../agent/downlink/index.js';
import { OLDER_RELAY_RETRY_MS, Replicator } from '../../agent/replication/index.js';
import { FeedAcks, Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { FakeRelay } from '../support/fake-relay-transport.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const BOOKINGS: InboundChannelDeclaration = {
  name: 'bookings',
  defaultTtlMs: 3_600_000,
  maxTtlMs: 86_400_000,
  maxBodyBytes: 65_536,
  contentTypes: ['json'],
  keyPath: '$.patient.id',
  requiredFields: [],
};

interface Agent {
  db: SqliteDatabase;
  journal: Journal;
  outbox: SqliteReceiptOutbox;
  ledger: EgressLedger;
  replicator: Replicator;
  /** Journal rows of a stream. */
  rows(stream: string): number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startAgent(relay: FakeRelay, options: { feeds?: string[]; intake?: (real: InboundIntake) => InboundIntake; clock?: () => number } = {}): Agent {
  const dir = makeTempDir('wardline-inbound-link-');
  const db = openAgentDatabase(join(dir.path, 'agent.db'));
  const journal = new Journal(db);
  const outbox = new SqliteReceiptOutbox(db);
  const ledger = new EgressLedger(db);
  const real = new JournalInboundIntake({ journal, store: new DeliveryStore(db), wake: () => {} });
  const replicator = new Replicator({
    relayName: 'cloud',
    transport: relay.transport(),
    journal,
    feedAcks: new FeedAcks(db),
    feeds: (options.feeds ?? []).map((name) => ({ name, streams: [name], policyVersion: 0, class: 'standard' })),
    hello: { hospitalId: 'h1', agentId: 'link-test', agentVersion: '0.0.0-test', secret: '' },
    codec: 'none',
    limits: { maxEvents: 100, maxBytes: 1 << 20, maxScan: 10_000 },
    maxInFlight: 4,
    ackTimeoutMs: 10_000,
    emptyBatchIntervalMs: 1_000,
    ackPersistIntervalMs: 1_000,
    backoff: { initialMs: 20, maxMs: 100, multiplier: 2, jitter: 0 },
    log: pino({ level: 'silent' }),
    egress: ledger,
    ...(options.clock ? { clock: options.clock } : {}),
    downlink: { channels: [BOOKINGS], intake: options.intake ? options.intake(real) : real, outbox, ledger },
  });
  replicator.start();
  cleanups.push(async () => {
    await replicator.stop();
    db.close();
    dir.remove();
  });
  return { db, journal, outbox, ledger, replicator, rows: (stream) => (db.prepare('SELECT COUNT(*) AS n FROM journal WHERE stream = ?').get(stream) as { n: number }).n };
}

const booking = (patient: string): { key: string; body: string } => ({ key: patient, body: JSON.stringify({ patient: { id: patient } }) });

/** Journals a receipt as the delivery engine does: its journal row and its outbox row in one transaction. */
async function journalReceipt(agent: Agent, receipt: InboundReceipt): Promise<void> {
  await agent.journal.append({
    source: 'downlink',
    events: [{ stream: receiptStreamName(receipt.channel), key: receipt.id, op: 'upsert', contentType: 'json', body: Buffer.from(JSON.stringify(receipt)), headers: {} }],
    dedupe: { scope: 'inbound-receipt', id: `${receipt.id}/${receipt.outcome}/${receipt.attempts}` },
    alsoInTransaction: () => agent.outbox.enqueue('cloud', receipt),
  });
}

const receiptOf = (event: InboundEventIn, outcome: InboundReceipt['outcome'] = 'accepted', attempts = 1): InboundReceipt => ({
  id: event.id,
  channel: event.channel,
  outcome,
  final: outcome !== 'quarantined',
  code: outcome === 'accepted' ? 'AA' : 'AR',
  reason: '',
  reference: '',
  attempts,
  decidedAtMs: Date.now(),
});

function receiptRecords(agent: Agent): { details: Record<string, unknown> }[] {
  return [...agent.ledger.records()].filter((r): r is Exclude<typeof r, { unreadable: true }> => !('unreadable' in r) && r.type === INBOUND_RECEIPT_RECORD_TYPE);
}

describe('InboundLink on a replicator', () => {
  it('declares its channels in Hello of protocol 2, journals each event once across a cut and acknowledges the highest channel_seq; it runs with no feed at all', async () => {
    const relay = new FakeRelay();
    const agent = startAgent(relay);
    const events = [relay.writeInbound('bookings', booking('P1')), relay.writeInbound('bookings', booking('P2'))];
    await until('the ack', () => relay.inboundAcked.get('bookings') ?? 0, (seq) => seq === 2);
    expect(relay.hellos[0]).toMatchObject({ protocolVersion: PROTOCOL_VERSION, feeds: [], inboundChannels: [BOOKINGS] });
    expect(agent.rows('inbound.bookings')).toBe(2);

    // A cut before the relay saw the ack: it resends; the agent journals nothing new and acks again.
    relay.inboundAcked.set('bookings', 0);
    relay.sessions.at(-1)!.close(new Error('cut'));
    await until('a second stream', () => relay.sessions.length, (n) => n >= 2);
    await until('the ack again', () => relay.sessions[1]!.inboundAcks, (acks) => acks.some((a) => a.throughSeq === 2));
    expect(agent.rows('inbound.bookings')).toBe(2);
    const headers = agent.db.prepare("SELECT headers FROM journal WHERE stream = 'inbound.bookings' ORDER BY seq").all() as { headers: string }[];
    expect(headers.map((h) => (JSON.parse(h.headers) as { inboundId: string }).inboundId)).toEqual(events.map((e) => e.id));
  });

  it('never acknowledges a delivery before the intake resolved, and acknowledges deliveries in arrival order', async () => {
    const relay = new FakeRelay();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const agent = startAgent(relay, { intake: (real) => ({ accept: async (r, events) => (await gate, real.accept(r, events)) }) });
    relay.writeInbound('bookings', booking('P1'));
    await until('a stream', () => relay.sessions.length, (n) => n >= 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    relay.writeInbound('bookings', booking('P2'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(relay.sessions[0]!.inboundAcks).toEqual([]);
    expect(agent.rows('inbound.bookings')).toBe(0);
    open();
    await until('both acks', () => relay.sessions[0]!.inboundAcks.map((a) => a.throughSeq), (seqs) => seqs.length === 2);
    expect(relay.sessions[0]!.inboundAcks.map((a) => a.throughSeq)).toEqual([1, 2]);
    expect(agent.rows('inbound.bookings')).toBe(2);
  });

  it('closes the stream without an ack when the intake fails; the resend is journaled and acked', async () => {
    const relay = new FakeRelay();
    let failures = 1;
    const agent = startAgent(relay, {
      intake: (real) => ({ accept: async (r, events) => (failures-- > 0 ? Promise.reject(new Error('disk full')) : real.accept(r, events)) }),
    });
    relay.writeInbound('bookings', booking('P1'));
    await until('the ack on a later stream', () => relay.inboundAcked.get('bookings') ?? 0, (seq) => seq === 1);
    expect(relay.sessions[0]!.inboundAcks).toEqual([]);
    expect(relay.sessions[0]!.closedWith).toMatchObject({ name: 'InboundIntakeError', code: 'WL_A042' });
    expect(agent.rows('inbound.bookings')).toBe(1);
  });

  it('records a receipt once in the egress ledger before it leaves, resends it after a cut with the same head, and removes it on the relay\'s ack', async () => {
    const relay = new FakeRelay();
    relay.switches.answerReceipts = false;
    const agent = startAgent(relay);
    const event = relay.writeInbound('bookings', booking('P1'));
    await until('the ack', () => relay.inboundAcked.get('bookings') ?? 0, (seq) => seq === 1);
    await journalReceipt(agent, receiptOf(event));
    await until('the receipt on the wire', () => relay.sessions[0]!.receiptsSent.length, (n) => n === 1);
    const first = relay.sessions[0]!.receiptsSent[0]!;
    expect(first).toMatchObject({ id: event.id, outcome: 'accepted', final: true, code: 'AA', attempts: 1 });
    const records = receiptRecords(agent);
    expect(records).toHaveLength(1);
    expect(records[0]!.details).toEqual({ relay: 'cloud', channel: 'bookings', id: event.id, outcome: 'accepted', final: true, attempts: 1 });
    expect(first.ledgerIndex).toBe((records[0] as unknown as { index: number }).index);
    expect(first.ledgerHead?.toString('hex')).toBe((records[0] as unknown as { hash: string }).hash);
    expect(agent.outbox.count('cloud')).toBe(1);

    // The ack is lost with the stream: the next Welcome brings the same receipt, same head, no second record.
    relay.sessions[0]!.close(new Error('cut'));
    relay.switches.answerReceipts = true;
    await until('the resend', () => relay.sessions[1]?.receiptsSent.length ?? 0, (n) => n === 1);
    expect(relay.sessions[1]!.receiptsSent[0]).toEqual(first);
    await until('the outbox emptied', () => agent.outbox.count('cloud'), (n) => n === 0);
    expect(receiptRecords(agent)).toHaveLength(1);
    expect(relay.receipts.get(event.id)).toHaveLength(1);
  });

  it('drops a receipt the relay refuses (an error ack) instead of sending it forever', async () => {
    const relay = new FakeRelay();
    const agent = startAgent(relay);
    const event = relay.writeInbound('bookings', booking('P1'));
    await until('the ack', () => relay.inboundAcked.get('bookings') ?? 0, (seq) => seq === 1);
    await journalReceipt(agent, receiptOf(event, 'accepted'));
    await journalReceipt(agent, receiptOf(event, 'refused', 2));
    await until('both answered', () => agent.outbox.count('cloud'), (n) => n === 0);
    expect(relay.receipts.get(event.id)!.map((r) => r.outcome)).toEqual(['accepted']);
    expect(relay.sessions[0]!.receiptsSent.map((r) => r.outcome)).toEqual(['accepted', 'refused']);
  });

  it('keeps the backlog the relay reports, with the time it was reported', async () => {
    const relay = new FakeRelay();
    relay.writeInbound('bookings', booking('P1'));
    const written = relay.inboundEvents.get('bookings')![0]!.receivedAtMs;
    let now = 1_000_000;
    // Held until the first report was read, so the relay reports before the ack.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const agent = startAgent(relay, { clock: () => now, intake: (real) => ({ accept: async (r, events) => (await gate, real.accept(r, events)) }) });
    await until('a report', () => agent.replicator.inboundStatus().channels[0]!.atRelay, (r) => r !== null);
    const first = agent.replicator.inboundStatus().channels[0]!.atRelay!;
    expect(first).toEqual({ waiting: 1, oldestReceivedAtMs: written, reportedAtMs: 1_000_000 });
    now = 2_000_000;
    open();
    await until('the report after the ack', () => agent.replicator.inboundStatus().channels[0]!.atRelay!, (r) => r.waiting === 0);
    expect(agent.replicator.inboundStatus()).toEqual({
      relay: 'cloud',
      protocolVersion: PROTOCOL_VERSION,
      problem: null,
      channels: [{ channel: 'bookings', atRelay: { waiting: 0, oldestReceivedAtMs: null, reportedAtMs: 2_000_000 } }],
    });
  });

  it('falls back to protocol 1 at once for an older relay: no inbound channels, the feeds replicate, the problem is shown; protocol 2 again 10 minutes later', async () => {
    const relay = new FakeRelay({ relayId: 'old-relay', protocolVersion: 1 });
    let now = Date.now();
    const agent = startAgent(relay, { feeds: ['adt'], clock: () => now });
    await agent.journal.append({ source: 'test', events: [{ stream: 'adt', key: 'P1', op: 'upsert', contentType: 'json', body: Buffer.from('{}'), headers: {} }] });
    await until('the feed at the relay', () => relay.highWater.get('adt') ?? 0, (seq) => seq === 1, { timeoutMs: 5_000 });
    expect(relay.hellos.map((h) => [h.protocolVersion, h.inboundChannels?.length ?? 0])).toEqual([
      [PROTOCOL_VERSION, 1],
      [1, 0],
    ]);
    expect(relay.sessions).toHaveLength(1);
    expect(agent.replicator.status().state).toBe('streaming');
    expect(agent.replicator.inboundStatus()).toMatchObject({
      protocolVersion: 1,
      problem: 'relay old-relay speaks replication protocol 1 (no inbound-v1): upgrade the relay; inbound events wait there',
    });

    // A reconnect within the 10 minutes stays in 1; one after them tries 2 again.
    agent.replicator.reconnectNow();
    await until('the reconnect', () => relay.hellos.length, (n) => n === 3);
    expect(relay.hellos[2]!.protocolVersion).toBe(1);
    now += OLDER_RELAY_RETRY_MS;
    await until('the stream again', () => agent.replicator.status().state, (s) => s === 'streaming');
    agent.replicator.reconnectNow();
    await until('protocol 2 tried and refused', () => relay.hellos.length, (n) => n === 5);
    expect(relay.hellos.slice(3).map((h) => h.protocolVersion)).toEqual([PROTOCOL_VERSION, 1]);
  });

  it('shows the problem when a relay of protocol 2 does not list inbound-v1', async () => {
    const relay = new FakeRelay({ relayId: 'no-inbound', inbound: false });
    const agent = startAgent(relay);
    await until('streaming', () => agent.replicator.status().state, (s) => s === 'streaming');
    expect(agent.replicator.inboundStatus()).toMatchObject({
      protocolVersion: PROTOCOL_VERSION,
      problem: 'relay no-inbound speaks replication protocol 2 (no inbound-v1): upgrade the relay; inbound events wait there',
    });
  });
});
