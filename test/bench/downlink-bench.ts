// Section 12: the downlink, vendor POST to HIS ACK. A simulated internet
// hospital writes bookings at the relay (a real process); the agent (a real
// process) delivers them as SRM^S01 over MLLP to a simulated HIS in this process.
// The baseline does the same work with none of the guarantees, in the same run:
// an HTTP server that hands each POST straight to the same MLLP sink and answers
// after the HIS's ACK (no relay, no journal, no line, nothing durable).
//
//  a. Latency at a steady rate with the line up: POST → HIS ACK, p50/p99, and
//     POST → the receipt read back by the vendor.
//  b. Throughput: a burst of events as fast as the vendor can post, first POST
//     to the last HIS decision.
//  c. Outage: the line refused for WARDLINE_BENCH_DOWNLINK_OUTAGE_SECONDS while
//     the vendor writes at a steady rate; then the time from the line's return
//     until the HIS has decided everything, and the resends the HIS saw.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createSink, SinkConfigSchema, type InboundSink } from '../../agent/downlink/sinks/index.js';
import { InternetHospital, MllpHis, type InboundPostRecord } from '../../simulator/index.js';
import { BOOKING_MAPPING } from '../support/downlink-channels.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/free-port.js';
import { PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';
import { shown, type BenchReport } from './bench-report.js';
import { percentile } from './workload.js';

const HOSPITAL = 'bench-hospital';
const CHANNEL = 'bookings';
const QUIET = { debug() {}, info() {}, warn() {}, error() {} };
const SINK = (port: number) => ({ kind: 'mllp', address: `127.0.0.1:${port}`, connections: 8, ackTimeoutMs: 5000, message: 'SRM^S01', mapping: BOOKING_MAPPING });

export interface DownlinkBenchOptions {
  dir: string;
  /** Bookings per second in the steady and outage runs. */
  rate: number;
  steadySeconds: number;
  burstEvents: number;
  outageSeconds: number;
}

interface RunFigures {
  /** POST → HIS decision, ms, per decided event. */
  toHis: number[];
  /** POST → final receipt at the vendor, ms (Wardline only). */
  toReceipt: number[];
  firstPostMs: number;
  lastDecisionMs: number;
  decided: number;
}

function figures(records: readonly InboundPostRecord[], his: MllpHis): RunFigures {
  const decidedAt = new Map(his.decisions().map((d) => [d.controlId, d.decidedAtMs]));
  const toHis: number[] = [];
  const toReceipt: number[] = [];
  let firstPostMs = Infinity;
  let lastDecisionMs = 0;
  for (const r of records) {
    if (r.id === undefined) continue;
    firstPostMs = Math.min(firstPostMs, r.postedAtMs);
    const at = decidedAt.get(r.id);
    if (at !== undefined) {
      toHis.push(at - r.postedAtMs);
      lastDecisionMs = Math.max(lastDecisionMs, at);
    }
    const final = r.receipts.find((receipt) => receipt.final);
    if (final) toReceipt.push(final.arrivedAtMs - r.postedAtMs);
  }
  return { toHis, toReceipt, firstPostMs, lastDecisionMs, decided: toHis.length };
}

/** The baseline: POST → the MLLP sink → 202 after the HIS's ACK; ids as the relay makes them. */
async function startBareForwarder(sink: InboundSink): Promise<{ url: string; close(): Promise<void> }> {
  const base32 = 'abcdefghijklmnopqrstuvwxyz234567';
  const newId = () => `ib${[...randomBytes(18)].map((b) => base32[b & 31]).join('')}`;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const id = newId();
      const key = String((JSON.parse(body.toString('utf8')) as { patient?: { id?: string } }).patient?.id ?? '');
      const now = Date.now();
      void sink
        .deliver({ id, channel: CHANNEL, key, contentType: 'json', body, vendor: 'bench', receivedAtMs: now, expiresAtMs: now + 3_600_000, attempt: 1 })
        .then((outcome) => {
          response.writeHead(202, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ id, state: outcome.kind }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Events of this app's run the HIS has decided (ids are unique across runs). */
function decidedOf(app: InternetHospital, his: MllpHis): number {
  const decided = new Set(his.decisions().map((d) => d.controlId));
  return app.records().filter((r) => r.id !== undefined && decided.has(r.id)).length;
}

async function drive(app: InternetHospital, his: MllpHis, expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (decidedOf(app, his) >= expected) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`downlink bench: ${decidedOf(app, his)} of ${expected} events decided by the HIS within ${timeoutMs} ms`);
}

/** The p-th percentile (0-100) of `values`, in their unit. */
const ms = (values: number[], p: number) => percentile([...values].sort((a, b) => a - b), p / 100);

export async function measureDownlink(report: BenchReport, options: DownlinkBenchOptions): Promise<void> {
  const { dir, rate, steadySeconds, burstEvents, outageSeconds } = options;
  report.begin(`12. Downlink: vendor POST → relay → line → agent journal → SRM^S01 over MLLP → HIS ACK, against a bare HTTP→MLLP forwarder`);
  const his = new MllpHis({ port: 0, refuseFraction: 0.05, seed: 'bench' });
  await his.start();
  const proxyPort = await freePort();
  const pair = await WardlinePair.create(dir, {
    hospital: HOSPITAL,
    logLevel: 'warn',
    relayAddressForAgent: () => `127.0.0.1:${proxyPort}`,
    vendorInbound: [CHANNEL],
    agentSections: { inbound: [{ channel: CHANNEL, relay: 'cloud', keyPath: '$.patient.id', ttl: '2h', concurrency: 32, sink: SINK(his.port) }] },
  });
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: pair.ports.relayGrpc }, listenPort: proxyPort });
  await pair.startRelay();
  await pair.startAgent();
  let seed = 0;
  const app = (relayUrl: string, extra: Partial<ConstructorParameters<typeof InternetHospital>[0]>) =>
    new InternetHospital({ relayUrl, hospital: HOSPITAL, vendorKey: PAIR_VENDOR_KEY, channels: { booking: CHANNEL }, seed: `bench-${seed++}`, patients: 2000, concurrency: 32, ...extra });
  try {
    // The baseline first, on the same HIS, so both runs meet the same listener.
    const sink = createSink(SinkConfigSchema.parse(SINK(his.port)), { hospitalId: HOSPITAL, log: QUIET });
    const bare = await startBareForwarder(sink);
    const bareSteady = app(bare.url, { ratePerSecond: rate, count: rate * steadySeconds, readReceipts: false });
    bareSteady.start();
    await drive(bareSteady, his, rate * steadySeconds, steadySeconds * 1000 + 60_000);
    const bareSteadyFigures = figures(bareSteady.records(), his);
    await bareSteady.stop(0);
    const bareBurst = app(bare.url, { count: burstEvents, readReceipts: false });
    const bareBurstStarted = performance.now();
    bareBurst.start();
    await drive(bareBurst, his, burstEvents, 300_000);
    const bareBurstSeconds = (performance.now() - bareBurstStarted) / 1000;
    await bareBurst.stop(0);
    await bare.close();
    await sink.close();

    const steady = app(pair.relayHttp, { ratePerSecond: rate, count: rate * steadySeconds });
    steady.start();
    await drive(steady, his, rate * steadySeconds, steadySeconds * 1000 + 60_000);
    await steady.settled(60_000);
    const steadyFigures = figures(steady.records(), his);
    await steady.stop(0);

    const burst = app(pair.relayHttp, { count: burstEvents });
    const burstStarted = performance.now();
    burst.start();
    await drive(burst, his, burstEvents, 600_000);
    const burstSeconds = (performance.now() - burstStarted) / 1000;
    await burst.settled(60_000);
    await burst.stop(0);

    report.record('bare forwarder, steady: POST → HIS ACK p50 (baseline)', ms(bareSteadyFigures.toHis, 50), 'ms', `${bareSteadyFigures.decided} bookings at ${rate}/s, HTTP → MLLP sink → 202, nothing durable`);
    report.record('bare forwarder, steady: POST → HIS ACK p99 (baseline)', ms(bareSteadyFigures.toHis, 99), 'ms');
    report.record('Wardline, steady, line up: POST → HIS ACK p50', ms(steadyFigures.toHis, 50), 'ms', `${steadyFigures.decided} bookings at ${rate}/s: relay fsync, stream, agent journal fsync, MLLP, HIS`);
    report.record('Wardline, steady, line up: POST → HIS ACK p99', ms(steadyFigures.toHis, 99), 'ms');
    report.record('Wardline, steady: POST → receipt at the vendor p50', ms(steadyFigures.toReceipt, 50), 'ms', 'receipt journaled, ledgered, sent back, stored, long-poll read');
    report.record('Wardline, steady: POST → receipt at the vendor p99', ms(steadyFigures.toReceipt, 99), 'ms');
    report.record('bare forwarder, burst (baseline)', burstEvents / bareBurstSeconds, 'events/s', `${burstEvents} bookings, 32 POSTs in flight`);
    report.record('Wardline, burst', burstEvents / burstSeconds, 'events/s', `${burstEvents} bookings, 32 POSTs in flight, vendor POST to the last HIS decision`);
    report.record('Wardline burst / bare forwarder', (bareBurstSeconds / burstSeconds) * 100, '%', 'same events, same HIS, same run');

    // The outage: the line refused while the vendor keeps writing.
    const outageEvents = Math.max(1, Math.round(rate * outageSeconds));
    const outage = app(pair.relayHttp, { ratePerSecond: rate, count: outageEvents });
    proxy.refuse();
    const cutAt = performance.now();
    outage.start();
    while (outage.records().filter((r) => r.id !== undefined).length < outageEvents) await new Promise((r) => setTimeout(r, 200));
    const decidedWhileDown = decidedOf(outage, his);
    await proxy.heal({ resetDamaged: true });
    const healedAt = performance.now();
    const healedAtMs = Date.now();
    await drive(outage, his, outageEvents, 1_800_000);
    const drainSeconds = (performance.now() - healedAt) / 1000;
    await outage.settled(300_000);
    const receiptsSeconds = (Math.max(...outage.records().map((r) => r.receipts.find((x) => x.final)?.arrivedAtMs ?? 0)) - healedAtMs) / 1000;
    const outageFigures = figures(outage.records(), his);
    await outage.stop(0);
    const outageIds = new Set(outage.records().map((r) => r.id));
    const transmissions = [...his.transmissions()].filter(([id]) => outageIds.has(id)).map(([, n]) => n);
    report.record('outage: line down', (healedAt - cutAt) / 1000, 's', `${outageEvents} bookings written at ${rate}/s meanwhile, ${decidedWhileDown} reached the HIS while it was down`);
    report.record('outage: line back → HIS decided all', drainSeconds, 's', `${outageFigures.decided} bookings, oldest first`);
    report.record('outage: line back → vendor read every receipt', receiptsSeconds, 's');
    report.record('outage: MSH-10s the HIS received more than once', transmissions.filter((n) => n > 1).length, 'messages', 'no agent kill in this run: expected 0');
    report.check('a 30-minute outage drains within minutes of the line\'s return', `< 300 s after ${outageSeconds} s down`, `${shown(drainSeconds)} s`, drainSeconds < 300);
  } finally {
    await pair.stop();
    await proxy.stop();
    await his.stop();
  }
}
