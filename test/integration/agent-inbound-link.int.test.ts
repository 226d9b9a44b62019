// The agent's end of the downlink on the wire: a replicator with its real
// agent.db (journal, intake with delivery rows, receipt outbox, egress ledger)
// over GrpcRelayTransport through a TCP fault proxy to a relay with its real
// SQLite inbound store. The line is cut while events and receipts flow; what
// must hold: every event journaled exactly once, never acknowledged before it
// was journaled, every receipt stored at the relay and recorded once in the
// ledger; and an older relay gets protocol 1 with the feeds still replicating.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { receiptStreamName, type InboundReceipt } from '../../protocol/index.js';
import { EgressLedger, INBOUND_RECEIPT_RECORD_TYPE } from '../../agent/audit/index.js';
import { DeliveryStore, JournalInboundIntake, SqliteReceiptOutbox } from '../../agent/downlink/index.js';
import { Replicator } from '../../agent/replication/index.js';
import { FeedAcks, Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { grpcTestTransport, REPLICATOR_TEST_TUNING } from '../support/replicator-test-tuning.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { InboundTestRelay, SECRETS, inboundChannel } from './relay-harness.js';

/** The agent process of the SIGKILL test, built by `npm run build` (npm test builds first). */
const CHILD = join(import.meta.dirname, '../../dist/test/support/inbound-agent-child.js');

function startChild(dataDir: string, address: string): ChildProcess {
  if (!existsSync(CHILD)) throw new Error(`${CHILD} is missing: run npm run build first`);
  const child = spawn(process.execPath, [CHILD, dataDir, address, SECRETS.h1], { stdio: ['ignore', 'ignore', 'inherit'] });
  cleanups.push(() => void child.kill('SIGKILL'));
  return child;
}

const exited = (child: ChildProcess): Promise<void> => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve())));

const bookings = inboundChannel('bookings');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Agent {
  db: SqliteDatabase;
  journal: Journal;
  outbox: SqliteReceiptOutbox;
  ledger: EgressLedger;
  replicator: Replicator;
  /** The channel_seq of every inbound event journaled, in journal order. */
  journaledSeqs(): number[];
}

async function startRelay(options: { protocolVersion?: number } = {}): Promise<{ relay: InboundTestRelay; proxy: FaultProxy }> {
  const relay = await new InboundTestRelay({ inboundBacklogIntervalMs: 300, ...options }).start();
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: relay.grpcPort } });
  cleanups.push(async () => {
    await proxy.stop();
    await relay.close();
  });
  return { relay, proxy };
}

function startAgent(address: string, feeds: string[] = []): Agent {
  const dir = makeTempDir('wardline-agent-inbound-');
  const db = openAgentDatabase(join(dir.path, 'agent.db'));
  const journal = new Journal(db);
  const outbox = new SqliteReceiptOutbox(db);
  const ledger = new EgressLedger(db);
  const replicator = new Replicator({
    relayName: 'cloud',
    transport: grpcTestTransport(address),
    journal,
    feedAcks: new FeedAcks(db),
    feeds: feeds.map((name) => ({ name, streams: [name], policyVersion: 0, class: 'standard' })),
    hello: { hospitalId: 'h1', agentId: 'inbound-int', agentVersion: '0.0.0-test', secret: SECRETS.h1 },
    ...REPLICATOR_TEST_TUNING,
    egress: ledger,
    downlink: { channels: [bookings], intake: new JournalInboundIntake({ journal, store: new DeliveryStore(db), wake: () => {} }), outbox, ledger },
  });
  replicator.start();
  cleanups.push(async () => {
    await replicator.stop();
    db.close();
    dir.remove();
  });
  return {
    db,
    journal,
    outbox,
    ledger,
    replicator,
    journaledSeqs: () =>
      (db.prepare("SELECT headers FROM journal WHERE stream = 'inbound.bookings' ORDER BY seq").all() as { headers: string }[]).map((r) => Number((JSON.parse(r.headers) as { channelSeq: string }).channelSeq)),
  };
}

async function journalReceipt(agent: Agent, receipt: InboundReceipt): Promise<void> {
  await agent.journal.append({
    source: 'downlink',
    events: [{ stream: receiptStreamName(receipt.channel), key: receipt.id, op: 'upsert', contentType: 'json', body: Buffer.from(JSON.stringify(receipt)), headers: {} }],
    dedupe: { scope: 'inbound-receipt', id: `${receipt.id}/${receipt.outcome}/${receipt.attempts}` },
    alsoInTransaction: () => agent.outbox.enqueue('cloud', receipt),
  });
}

describe('the agent inbound link against a real relay', () => {
  it('journals every event exactly once across cuts of the line, and the relay is never told of an event before it is journaled', async () => {
    const { relay, proxy } = await startRelay();
    const agent = startAgent(proxy.address);
    await until('streaming', () => agent.replicator.status().state, (s) => s === 'streaming');
    const written = await relay.write('h1', 'bookings', 40);
    const more = (async () => {
      for (let i = 0; i < 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        written.push(...(await relay.write('h1', 'bookings', 40)));
        proxy.reset();
      }
    })();
    // The invariant, read in this order: the relay's mark first, then what the journal holds.
    let violations = 0;
    const watch = setInterval(async () => {
      const acked = await relay.inbound.ackedSeq('h1', 'bookings');
      const journaled = Math.max(0, ...agent.journaledSeqs());
      if (acked > journaled) violations++;
    }, 20);
    cleanups.push(() => clearInterval(watch));
    await more;
    await until('everything acked', () => relay.inbound.ackedSeq('h1', 'bookings'), (seq) => seq === 200, { timeoutMs: 30_000 });
    clearInterval(watch);
    const seqs = agent.journaledSeqs();
    expect(seqs).toHaveLength(200);
    expect(new Set(seqs).size).toBe(200);
    expect(violations).toBe(0);
    expect(agent.replicator.status().reconnects).toBeGreaterThanOrEqual(1);
    const ids = (agent.db.prepare("SELECT headers FROM journal WHERE stream = 'inbound.bookings'").all() as { headers: string }[]).map((r) => (JSON.parse(r.headers) as { inboundId: string }).inboundId);
    expect(new Set(ids)).toEqual(new Set(written.map((w) => w.id)));
    expect((agent.db.prepare('SELECT COUNT(*) AS n FROM inbound_deliveries').get() as { n: number }).n).toBe(200);
  }, 60_000);

  it('gets every receipt to the relay across cuts, each recorded once in the egress ledger before it first left', async () => {
    const { relay, proxy } = await startRelay();
    const agent = startAgent(proxy.address);
    // The relay takes writes for a channel once the agent's Hello declared it.
    await until('streaming', () => agent.replicator.status().state, (s) => s === 'streaming');
    const written = await relay.write('h1', 'bookings', 30);
    await until('everything acked', () => relay.inbound.ackedSeq('h1', 'bookings'), (seq) => seq === 30, { timeoutMs: 15_000 });
    for (const [i, event] of written.entries()) {
      await journalReceipt(agent, { id: event.id, channel: 'bookings', outcome: 'accepted', final: true, code: 'AA', reason: '', reference: `A-${i}`, attempts: 1, decidedAtMs: Date.now() });
      if (i % 10 === 5) proxy.reset();
    }
    await until('the outbox emptied', () => agent.outbox.count('cloud'), (n) => n === 0, { timeoutMs: 20_000 });
    expect(agent.replicator.status().reconnects).toBeGreaterThanOrEqual(1);
    for (const event of written) expect((await relay.inbound.get('h1', event.id))?.receipt).toMatchObject({ outcome: 'accepted', final: true });
    const records = [...agent.ledger.records()].filter((r) => !('unreadable' in r) && r.type === INBOUND_RECEIPT_RECORD_TYPE) as unknown as { details: { id: string } }[];
    expect(records.map((r) => r.details.id).sort()).toEqual(written.map((w) => w.id).sort());
    expect(JSON.stringify(records)).not.toContain('patient');
    expect(agent.ledger.verify().ok).toBe(true);
  }, 60_000);

  it('survives a SIGKILL of the agent: what the relay holds as acked is in agent.db, each event journaled once, each receipt stored at the relay and recorded once', async () => {
    const { relay } = await startRelay();
    const dir = makeTempDir('wardline-agent-inbound-kill-');
    cleanups.push(() => dir.remove());
    const address = `127.0.0.1:${relay.grpcPort}`;
    let child = startChild(dir.path, address);
    // The relay takes writes for the channel once the agent declared it.
    await until('the declaration', () => relay.inbound.channel('h1', 'bookings'), (c) => c !== undefined, { timeoutMs: 15_000 });
    const written = await relay.write('h1', 'bookings', 150);
    const writing = relay.write('h1', 'bookings', 150).then((w) => written.push(...w));
    await until('part acked', () => relay.inbound.ackedSeq('h1', 'bookings'), (seq) => seq >= 60, { timeoutMs: 20_000 });
    child.kill('SIGKILL');
    await exited(child);
    const ackedAtKill = await relay.inbound.ackedSeq('h1', 'bookings');
    expect(ackedAtKill, 'killed in the middle of the flow').toBeLessThan(300);
    {
      const db = openAgentDatabase(join(dir.path, 'agent.db'));
      const seqs = (db.prepare("SELECT headers FROM journal WHERE stream = 'inbound.bookings'").all() as { headers: string }[]).map((r) => Number((JSON.parse(r.headers) as { channelSeq: string }).channelSeq));
      db.close();
      // An ack is a promise of durability: every event through the relay's mark survived the kill.
      for (let seq = 1; seq <= ackedAtKill; seq++) expect(seqs, `channel_seq ${seq}`).toContain(seq);
    }
    await writing;
    child = startChild(dir.path, address);
    await until('everything acked', () => relay.inbound.ackedSeq('h1', 'bookings'), (seq) => seq === 300, { timeoutMs: 30_000 });
    await until(
      'every receipt at the relay',
      async () => (await Promise.all(written.map((w) => relay.inbound.get('h1', w.id)))).filter((r) => r?.receipt?.outcome === 'accepted').length,
      (n) => n === 300,
      { timeoutMs: 30_000 },
    );
    // The relay stores a receipt before its ack reaches the agent: the outbox empties a moment later.
    const reader = new Database(join(dir.path, 'agent.db'), { readonly: true, fileMustExist: true });
    await until('the outbox emptied by the relay\'s acks', () => (reader.prepare('SELECT COUNT(*) AS n FROM inbound_receipt_outbox').get() as { n: number }).n, (n) => n === 0, { timeoutMs: 15_000 });
    reader.close();
    child.kill('SIGTERM');
    await exited(child);
    const db = openAgentDatabase(join(dir.path, 'agent.db'));
    cleanups.push(() => {
      db.close();
    });
    const ids = (db.prepare("SELECT headers FROM journal WHERE stream = 'inbound.bookings'").all() as { headers: string }[]).map((r) => (JSON.parse(r.headers) as { inboundId: string }).inboundId);
    expect(ids).toHaveLength(300);
    expect(new Set(ids)).toEqual(new Set(written.map((w) => w.id)));
    const recorded = (db.prepare(`SELECT details FROM egress_ledger WHERE type = '${INBOUND_RECEIPT_RECORD_TYPE}'`).all() as { details: string }[]).map((r) => (JSON.parse(r.details) as { id: string }).id);
    expect(recorded).toHaveLength(300);
    expect(new Set(recorded).size).toBe(300);
    expect((db.prepare('SELECT COUNT(*) AS n FROM inbound_receipt_outbox').get() as { n: number }).n).toBe(0);
  }, 90_000);

  it('speaks protocol 1 to an older relay at once: the feeds replicate, the inbound channel shows the problem', async () => {
    const { proxy } = await startRelay({ protocolVersion: 1 });
    const agent = startAgent(proxy.address, ['adt']);
    await agent.journal.append({ source: 'test', events: [1, 2, 3].map((i) => ({ stream: 'adt', key: `P${i}`, op: 'upsert' as const, contentType: 'json', body: Buffer.from('{}'), headers: {} })) });
    await until('the feed acked', () => agent.replicator.feedStatus('adt')?.ackedSeq ?? 0, (seq) => seq === 3, { timeoutMs: 10_000 });
    expect(agent.replicator.status().state).toBe('streaming');
    expect(agent.replicator.inboundStatus()).toEqual({
      relay: 'cloud',
      protocolVersion: 1,
      problem: 'relay test-relay speaks replication protocol 1 (no inbound-v1): upgrade the relay; inbound events wait there',
      channels: [{ channel: 'bookings', atRelay: null }],
    });
    // One refusal, then protocol 1 at once: no backoff wait between them.
    expect(agent.replicator.status().reconnects).toBe(1);
  }, 30_000);
});
