// The downlink under faults, with real processes and real peers: a simulated
// internet hospital writes bookings and payments at a real relay process; the
// relay sends them to a real agent process through the fault proxy; the agent
// delivers bookings as SRM^S01 over MLLP to an HIS listening in this test, and
// payments into an inbox table of the machine's PostgreSQL that an HIS polls.
// Meanwhile the agent is killed with SIGKILL 20 times, the relay is restarted 10
// times (SIGKILL or SIGTERM) and the line is cut 20 times. Afterwards each event
// was decided by the HIS exactly once (an MLLP resend after a kill carries the
// same MSH-10 and is answered, not applied, again), in the order the vendor wrote
// them per patient, and each has exactly one final receipt at the relay, readable
// by the vendor, matching the HIS's decision.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboxHis, InternetHospital, MllpHis, type InboundPostRecord } from '../../simulator/index.js';
import { mllpBookingsChannel } from '../support/downlink-channels.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';

const TOTAL_EVENTS = Number(process.env.WARDLINE_DOWNLINK_EVENTS ?? 10_000);
const AGENT_KILLS = 20;
const RELAY_RESTARTS = 10;
const LINK_CUTS = 20;
const HOSPITAL = 'downlink-hospital';
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };

type Fault = 'agent-kill' | 'relay-restart' | 'link-cut';

/** The faults in a fixed interleaving, spread evenly over the run. */
function faultPlan(): Fault[] {
  const plan: Fault[] = [];
  const counts: Record<Fault, number> = { 'agent-kill': AGENT_KILLS, 'relay-restart': RELAY_RESTARTS, 'link-cut': LINK_CUTS };
  const total = AGENT_KILLS + RELAY_RESTARTS + LINK_CUTS;
  for (let i = 0; i < total; i++) {
    // Largest remainder first keeps each kind spread over the whole run.
    const next = (Object.keys(counts) as Fault[]).sort((a, b) => counts[b] - counts[a])[0]!;
    plan.push(next);
    counts[next]--;
  }
  return plan;
}

describe('the downlink under agent SIGKILLs, relay restarts and link cuts', () => {
  const dir = makeTempDir('wardline-downlink-');
  const database = `wardline_downlink_${process.pid}_${Date.now()}`;
  let pair: WardlinePair;
  let proxy: FaultProxy;
  let mllpHis: MllpHis;
  let inboxHis: InboxHis;
  let app: InternetHospital;

  beforeAll(async () => {
    const admin = new pg.Client({ ...PG, database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();

    mllpHis = new MllpHis({ port: 0, refuseFraction: 0.05, seed: 'downlink-faults' });
    await mllpHis.start();
    const proxyPort = await freePort();
    pair = await WardlinePair.create(dir.path, {
      hospital: HOSPITAL,
      relayAddressForAgent: () => `127.0.0.1:${proxyPort}`,
      agentRelay: { keepaliveTimeMs: 1000, keepaliveTimeoutMs: 1000 },
      vendorInbound: ['bookings', 'payments'],
      agentSections: {
        inbound: [
          mllpBookingsChannel(mllpHis.port, { channel: { concurrency: 32, retry: { initialMs: 200, maxMs: 2000 } }, sink: { connections: 8, ackTimeoutMs: 5000 } }),
          {
            channel: 'payments',
            relay: 'cloud',
            keyPath: '$.patient.id',
            ttl: '1h',
            concurrency: 32,
            retry: { initialMs: 200, maxMs: 2000 },
            settleIntervalMs: 200,
            sink: { kind: 'inbox', dialect: 'postgres', connection: { ...PG, database }, createTable: true },
          },
        ],
      },
    });
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: pair.ports.relayGrpc }, listenPort: proxyPort });
    await pair.startRelay();
    await pair.startAgent();
    inboxHis = new InboxHis({ database: { kind: 'postgres', connection: { ...PG, database } }, pollMs: 100, refuseFraction: 0.05, seed: 'downlink-faults' });
    await inboxHis.start();
  }, 60_000);

  afterAll(async () => {
    await app?.stop(0);
    await inboxHis?.stop();
    await pair?.stop();
    await proxy?.stop();
    await mllpHis?.stop();
    const admin = new pg.Client({ ...PG, database: 'postgres' });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    dir.remove();
  }, 60_000);

  it(`decides each of ${TOTAL_EVENTS} inbound events once at the HIS, in order per patient, with one final receipt each`, async () => {
    const started = Date.now();
    app = new InternetHospital({
      relayUrl: pair.relayHttp,
      hospital: HOSPITAL,
      vendorKey: PAIR_VENDOR_KEY,
      channels: { booking: 'bookings', payment: 'payments' },
      seed: 'downlink-faults',
      patients: 2000,
      // Enough slots that a taken slot is rare: the HIS's own 5% refusals are what the receipts show.
      slotsPerDoctor: 1000,
      count: TOTAL_EVENTS,
      // Spread over the faults (about a minute of them), so vendors write through relay restarts too.
      ratePerSecond: Math.max(20, Math.round(TOTAL_EVENTS / 60)),
      concurrency: 32,
      postTimeoutMs: 5000,
      receiptWaitMs: 2000,
    });
    app.start();

    const plan = faultPlan();
    const applied: { fault: Fault; atAnswered: number }[] = [];
    for (let i = 0; i < plan.length; i++) {
      const threshold = Math.floor(((i + 1) * TOTAL_EVENTS) / (plan.length + 1));
      while (app.stats().answered < threshold) await new Promise((r) => setTimeout(r, 20));
      const fault = plan[i]!;
      applied.push({ fault, atAnswered: app.stats().answered });
      if (fault === 'agent-kill') {
        await pair.agent!.kill('SIGKILL');
        await pair.startAgent();
      } else if (fault === 'relay-restart') {
        await pair.relay!.kill(i % 2 === 0 ? 'SIGKILL' : 'SIGTERM');
        await pair.startRelay();
      } else {
        proxy.reset();
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    const faultsDoneMs = Date.now();
    const stats = await app.settled(300_000);
    const settledMs = Date.now();
    await inboxHis.pollNow();

    const records = app.records();
    const answered = records.filter((r) => r.id !== undefined);
    expect(answered).toHaveLength(TOTAL_EVENTS);
    expect(stats.rejected).toBe(0);

    // Exactly one final receipt per event, at the relay, read by the vendor.
    const finals = (r: InboundPostRecord) => r.receipts.filter((receipt) => receipt.final);
    expect(answered.filter((r) => finals(r).length !== 1).map((r) => r.id)).toEqual([]);
    expect(stats.unmatchedReceipts).toBe(0);
    expect(stats.receipts.expired).toBe(0);

    // Each event decided once by its HIS, the decision matching its receipt.
    const bookings = answered.filter((r) => r.channel === 'bookings');
    const payments = answered.filter((r) => r.channel === 'payments');
    const mllpDecisions = new Map<string, string>();
    for (const d of mllpHis.decisions()) {
      expect(mllpDecisions.has(d.controlId), `MSH-10 ${d.controlId} decided twice`).toBe(false);
      mllpDecisions.set(d.controlId, d.code);
    }
    const inboxDecisions = new Map<string, string>();
    for (const d of inboxHis.decisions()) {
      expect(inboxDecisions.has(d.id), `inbox row ${d.id} decided twice`).toBe(false);
      inboxDecisions.set(d.id, d.status);
    }
    const outcome = (r: InboundPostRecord) => finals(r)[0]!.outcome;
    expect(bookings.filter((r) => (mllpDecisions.get(r.id!) === 'AA' ? 'accepted' : mllpDecisions.get(r.id!) === 'AR' ? 'refused' : 'undecided') !== outcome(r)).map((r) => r.id)).toEqual([]);
    expect(payments.filter((r) => (inboxDecisions.get(r.id!) === 'applied' ? 'accepted' : inboxDecisions.get(r.id!) === 'rejected' ? 'refused' : 'undecided') !== outcome(r)).map((r) => r.id)).toEqual([]);
    expect(mllpDecisions.size).toBe(bookings.length);
    expect(inboxDecisions.size).toBe(payments.length);

    // In the order the vendor wrote them, per patient (the app writes one event of a patient at a time).
    const writtenOrder = (channelRecords: readonly InboundPostRecord[]) => {
      const byKey = new Map<string, string[]>();
      for (const r of [...channelRecords].sort((a, b) => a.seq - b.seq)) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.id!]);
      return byKey;
    };
    const decidedOrder = (decisions: readonly { id: string; key: string }[]) => {
      const byKey = new Map<string, string[]>();
      for (const d of decisions) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d.id]);
      return byKey;
    };
    expect(decidedOrder(mllpHis.decisions().map((d) => ({ id: d.controlId, key: d.key })))).toEqual(writtenOrder(bookings));
    expect(decidedOrder(inboxHis.decisions().map((d) => ({ id: d.id, key: d.key })))).toEqual(writtenOrder(payments));

    const refused = answered.filter((r) => outcome(r) === 'refused');
    console.log(
      [
        `downlink faults: ${TOTAL_EVENTS} events (${bookings.length} bookings over MLLP, ${payments.length} payments into the PostgreSQL inbox)`,
        `  faults: ${applied.filter((f) => f.fault === 'agent-kill').length} agent SIGKILLs, ${applied.filter((f) => f.fault === 'relay-restart').length} relay restarts, ${applied.filter((f) => f.fault === 'link-cut').length} link cuts`,
        `  receipts: ${stats.receipts.accepted} accepted, ${refused.length} refused, ${stats.receipts.expired} expired; ${stats.resends} vendor POSTs resent (same Idempotency-Key), ${stats.replayed} answered as replays`,
        `  MLLP resends of an already-decided MSH-10 (after a kill): ${mllpHis.resends()}; inbox rows: ${inboxDecisions.size}`,
        `  run ${((faultsDoneMs - started) / 1000).toFixed(1)} s with faults, settled ${((settledMs - faultsDoneMs) / 1000).toFixed(1)} s after the last`,
      ].join('\n'),
    );
  }, 900_000);
});
