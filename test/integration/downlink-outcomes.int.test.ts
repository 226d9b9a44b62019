// What the HIS decides reaches the vendor, and nothing is guessed: with a real
// relay and agent process and the simulated HIS refusing 5% of bookings, each
// refusal's receipt is readable by the vendor within 5 s of the refusal and the
// refused message is never sent again; with the HIS down for a while, bookings
// still within their TTL are delivered when it returns and those past it get
// `expired` without ever reaching it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpHis, type InboundPostRecord, type InternetHospital, type InternetHospitalOptions } from '../../simulator/index.js';
import { internetHospitalFor, mllpBookingsChannel } from '../support/downlink-channels.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlinePair } from '../support/wardline-pair.js';

const HOSPITAL = 'outcomes-hospital';
const final = (r: InboundPostRecord) => r.receipts.find((receipt) => receipt.final);

describe('downlink outcomes: refusals, an HIS outage, expiry', () => {
  const dir = makeTempDir('wardline-downlink-outcomes-');
  let pair: WardlinePair;
  let his: MllpHis;
  const apps: InternetHospital[] = [];
  const app = (seed: string, extra: Partial<InternetHospitalOptions>) => {
    const made = internetHospitalFor(pair, HOSPITAL, { seed, patients: 400, slotsPerDoctor: 100_000, concurrency: 16, receiptWaitMs: 1000, ...extra });
    apps.push(made);
    return made;
  };

  beforeAll(async () => {
    his = new MllpHis({ port: 0, refuseFraction: 0.05, seed: 'outcomes' });
    await his.start();
    pair = await WardlinePair.create(dir.path, {
      hospital: HOSPITAL,
      vendorInbound: ['bookings'],
      agentSections: {
        inbound: [
          mllpBookingsChannel(his.port, {
            channel: { concurrency: 16, retry: { initialMs: 200, maxMs: 1000 } },
            sink: { connections: 4, ackTimeoutMs: 2000, connectTimeoutMs: 500 },
          }),
        ],
      },
    });
    await pair.startRelay();
    await pair.startAgent();
  }, 60_000);

  afterAll(async () => {
    for (const a of apps) await a.stop(0);
    await pair?.stop();
    await his?.stop();
    dir.remove();
  }, 30_000);

  it('gives each refusal its receipt within 5 s of the refusal, and never sends a refused booking again', async () => {
    const bookings = app('refusals', { ratePerSecond: 50, count: 400 });
    bookings.start();
    await bookings.settled(60_000);
    const decided = new Map(his.decisions().map((d) => [d.controlId, d]));
    const refused = bookings.records().filter((r) => final(r)?.outcome === 'refused');
    expect(refused.length).toBeGreaterThan(5);
    const lagsMs = refused.map((r) => final(r)!.arrivedAtMs - decided.get(r.id!)!.decidedAtMs).sort((a, b) => a - b);
    expect(lagsMs.at(-1)!).toBeLessThan(5000);
    // The HIS's reason reaches the vendor as it gave it; the refused message came once and was never retried.
    expect(refused.every((r) => decided.get(r.id!)!.code === 'AR' && final(r)!.reason === decided.get(r.id!)!.text)).toBe(true);
    expect(refused.map((r) => his.transmissions().get(r.id!))).toEqual(refused.map(() => 1));
    console.log(`downlink refusals: ${refused.length} of 400 refused by the HIS; receipt at the vendor ${lagsMs[Math.floor(lagsMs.length / 2)]} ms (median), ${lagsMs.at(-1)} ms (max) after the refusal`);
  }, 90_000);

  it('delivers what is still within its TTL when the HIS returns, and expires what is not, without it reaching the HIS', async () => {
    await his.setDown(true);
    const shortLived = app('short-ttl', { count: 30, ttlMs: 3000 });
    const longLived = app('long-ttl', { count: 30 });
    shortLived.start();
    longLived.start();
    const answered = (a: InternetHospital) => a.records().filter((r) => r.id !== undefined).length;
    while (answered(shortLived) < 30 || answered(longLived) < 30) await new Promise((r) => setTimeout(r, 50));
    // Down past the short TTL: the agent has been retrying (uncounted: the HIS cannot be reached).
    await new Promise((r) => setTimeout(r, 5000));
    const downStatus = await pair.agentStatus();
    await his.setDown(false);
    await shortLived.settled(30_000);
    await longLived.settled(30_000);

    const decided = new Set(his.decisions().map((d) => d.controlId));
    expect(shortLived.records().map((r) => final(r)?.outcome)).toEqual(shortLived.records().map(() => 'expired'));
    expect(shortLived.records().filter((r) => decided.has(r.id!))).toEqual([]);
    expect(longLived.records().every((r) => ['accepted', 'refused'].includes(final(r)!.outcome) && decided.has(r.id!))).toBe(true);
    expect(longLived.records().map((r) => his.transmissions().get(r.id!))).toEqual(longLived.records().map(() => 1));
    // While the HIS was down the dashboard said so, and nothing was quarantined for it.
    const channel = downStatus.downlink!.channels.find((c) => c.channel === 'bookings')!;
    expect(channel.sinkState).toMatchObject({ state: 'down' });
    expect(channel.quarantined).toBe(0);
  }, 90_000);
});
