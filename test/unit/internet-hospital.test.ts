// The internet-hospital app against a small HTTP stand-in that answers as the spec's
// vendor inbound API does (202 with an id, a replay for a repeated Idempotency-Key,
// NDJSON receipts after a cursor with a long-poll wait). The real relay is tested with
// this app at integration.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InboundEventGenerator, InternetHospital, type InboundPostRecord, type InternetHospitalOptions } from '../../simulator/index.js';

const KEY = 'vendor-key-1';
const HOSPITAL = 'h-zj-002';

interface StoredEvent {
  id: string;
  channel: string;
  idempotencyKey: string;
  sha: string;
  body: Record<string, unknown>;
}

/** The vendor side of the relay's inbound API, per the downlink spec, in memory. */
class StandInRelay {
  readonly events: StoredEvent[] = [];
  readonly posts: { channel: string; idempotencyKey: string; ttl: string | undefined }[] = [];
  readonly receiptRequests: { channel: string; after: number; wait: number }[] = [];
  /** Idempotency keys whose first POST is stored and then left unanswered (the socket cut). */
  readonly loseAnswerOf = new Set<string>();
  /** Answer the next n POSTs 503 without storing. */
  unavailable = 0;
  channels = new Set(['bookings', 'registrations', 'payments']);
  private readonly receipts = new Map<string, Record<string, unknown>[]>();
  private readonly waiters = new Set<() => void>();
  private receiptSeq = 0;
  private serial = 0;
  readonly server = http.createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.waiters) w();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.headers.authorization !== `Bearer ${KEY}`) return void res.writeHead(401).end('no key');
    const receipts = url.pathname.match(/^\/v1\/hospitals\/([^/]+)\/inbound\/([^/]+)\/receipts$/);
    if (req.method === 'GET' && receipts) return this.serveReceipts(decodeURIComponent(receipts[2]!), url, res);
    const post = url.pathname.match(/^\/v1\/hospitals\/([^/]+)\/inbound\/([^/]+)$/);
    if (req.method !== 'POST' || !post || decodeURIComponent(post[1]!) !== HOSPITAL) return void res.writeHead(404).end();
    const channel = decodeURIComponent(post[2]!);
    if (!this.channels.has(channel)) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `unknown channel ${channel}` }));
    const idempotencyKey = req.headers['idempotency-key'];
    if (typeof idempotencyKey !== 'string') return void res.writeHead(400).end('Idempotency-Key required');
    this.posts.push({ channel, idempotencyKey, ttl: req.headers['wardline-ttl-ms'] as string | undefined });
    if (this.unavailable > 0) {
      this.unavailable--;
      return void res.writeHead(503).end('store busy');
    }
    const raw = Buffer.concat(chunks);
    const sha = createHash('sha256').update(raw).digest('hex');
    const earlier = this.events.find((e) => e.channel === channel && e.idempotencyKey === idempotencyKey);
    if (earlier) {
      if (earlier.sha !== sha) return void res.writeHead(409).end('same key, other body');
      return void res.writeHead(202, { 'content-type': 'application/json', 'idempotent-replayed': 'true' }).end(JSON.stringify({ id: earlier.id, state: 'waiting' }));
    }
    const serial = ++this.serial;
    const id = `ib${String(serial).padStart(18, 'a')}`;
    const event = { id, channel, idempotencyKey, sha, body: JSON.parse(raw.toString('utf8')) as Record<string, unknown> };
    this.events.push(event);
    // The hospital answers a little later: every fourth event refused (by its own number, however late the answer comes).
    setTimeout(() => this.addReceipt(event, serial), 20);
    if (this.loseAnswerOf.delete(idempotencyKey)) return void req.socket.destroy();
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id, state: 'waiting' }));
  }

  private addReceipt(event: StoredEvent, serial: number): void {
    const refused = serial % 4 === 0;
    const receipt = {
      id: event.id, channel: event.channel, outcome: refused ? 'refused' : 'accepted', final: true,
      code: refused ? 'AR' : 'AA', reason: refused ? 'slot already taken' : '', reference: refused ? '' : `FA${event.id.slice(-4)}`,
      attempts: 1, decidedAt: new Date().toISOString(), receiptSeq: ++this.receiptSeq, key: String((event.body.patient as { id: string }).id), storedAt: new Date().toISOString(),
    };
    const list = this.receipts.get(event.channel) ?? [];
    list.push(receipt);
    this.receipts.set(event.channel, list);
    for (const w of [...this.waiters]) w();
  }

  private async serveReceipts(channel: string, url: URL, res: http.ServerResponse): Promise<void> {
    const after = Number(url.searchParams.get('after') ?? 0);
    const wait = Number(url.searchParams.get('wait') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 100);
    this.receiptRequests.push({ channel, after, wait });
    const ready = (): Record<string, unknown>[] => (this.receipts.get(channel) ?? []).filter((r) => (r.receiptSeq as number) > after).slice(0, limit);
    if (ready().length === 0 && wait > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => (clearTimeout(timer), this.waiters.delete(wake), resolve());
        const wake = (): void => void (ready().length > 0 && done());
        const timer = setTimeout(done, wait);
        this.waiters.add(wake);
        res.once('close', done);
      });
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(ready().map((r) => JSON.stringify(r) + '\n').join(''));
  }
}

describe('InternetHospital', () => {
  let relay: StandInRelay;
  let app: InternetHospital | undefined;
  afterEach(async () => {
    await app?.stop(0);
    app = undefined;
    await relay?.stop();
  });

  async function startApp(options: Partial<InternetHospitalOptions> = {}): Promise<InternetHospital> {
    relay = new StandInRelay();
    const relayUrl = await relay.start();
    app = new InternetHospital({
      relayUrl, hospital: HOSPITAL, vendorKey: KEY, seed: 'ih-test', patients: 3, receiptWaitMs: 2_000, retryDelayMs: 20,
      channels: { registration: 'registrations', booking: 'bookings', payment: 'payments' },
      ...options,
    });
    app.start();
    return app;
  }

  it('posts every event once with its own Idempotency-Key and joins each final receipt to it', async () => {
    const ih = await startApp({ count: 15 });
    const stats = await ih.settled(10_000);
    expect(stats).toMatchObject({ generated: 15, posted: 15, answered: 15, rejected: 0, resends: 0, awaitingFinal: 0, unmatchedReceipts: 0 });
    expect(stats.receipts.accepted + stats.receipts.refused).toBe(15);
    expect(stats.receipts.refused).toBeGreaterThan(0);
    expect(stats.latencyMs.count).toBe(15);
    expect(stats.latencyMs.p50).toBeGreaterThan(0);
    const records = ih.records();
    expect(new Set(records.map((r) => r.idempotencyKey)).size).toBe(15);
    expect(relay.events).toHaveLength(15);
    for (const r of records) {
      expect(r.receipts).toHaveLength(1);
      expect(r.receipts[0]!.id).toBe(r.id);
      expect(r.receipts[0]!.arrivedAtMs).toBeGreaterThanOrEqual(r.answeredAtMs);
      expect(r.channel).toBe({ registration: 'registrations', booking: 'bookings', payment: 'payments' }[r.kind]);
    }
  });

  it("keeps one patient's events in order: each POST only after the one before it was answered", async () => {
    const ih = await startApp({ count: 30, patients: 2, concurrency: 4 });
    await ih.settled(10_000);
    const byKey = new Map<string, InboundPostRecord[]>();
    for (const r of ih.records()) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
    expect(byKey.size).toBe(2);
    for (const list of byKey.values()) {
      for (let i = 1; i < list.length; i++) expect(list[i]!.postedAtMs).toBeGreaterThanOrEqual(list[i - 1]!.answeredAtMs);
      // A patient registers, then books and pays for each booking.
      expect(list.map((r) => r.kind).slice(0, 5)).toEqual(['registration', 'booking', 'payment', 'booking', 'payment']);
      const stored = relay.events.filter((e) => (e.body.patient as { id: string }).id === list[0]!.key).map((e) => e.id);
      expect(stored).toEqual(list.map((r) => r.id));
    }
  });

  it('sends a POST whose answer was lost again with the same Idempotency-Key and takes the replayed id', async () => {
    relay = new StandInRelay();
    const relayUrl = await relay.start();
    // Store the very first POST, then cut its connection before the answer leaves.
    relay.server.prependListener('request', (req: http.IncomingMessage) => {
      const k = req.headers['idempotency-key'];
      if (typeof k === 'string' && relay.posts.length === 0) relay.loseAnswerOf.add(k);
    });
    const probe = new InternetHospital({ relayUrl, hospital: HOSPITAL, vendorKey: KEY, seed: 'ih-test', count: 3, retryDelayMs: 20, receiptWaitMs: 1_000, channels: { booking: 'bookings' } });
    app = probe;
    probe.start();
    const stats = await probe.settled(10_000);
    const first = probe.records()[0]!;
    expect(first.attempts).toBe(2);
    expect(first.replayed).toBe(true);
    expect(relay.posts.filter((p) => p.idempotencyKey === first.idempotencyKey)).toHaveLength(2);
    expect(relay.events.filter((e) => e.idempotencyKey === first.idempotencyKey)).toHaveLength(1);
    expect(first.id).toBe(relay.events.find((e) => e.idempotencyKey === first.idempotencyKey)!.id);
    expect(stats).toMatchObject({ answered: 3, replayed: 1, resends: 1, awaitingFinal: 0 });
  });

  it('resends after a 503 with the same key; a 404 is recorded and not retried', async () => {
    const ih = await startApp({ count: 4, channels: { booking: 'bookings', payment: 'fees' } });
    relay.unavailable = 1;
    await until(() => ih.stats().generated === 4 && ih.stats().inFlight === 0 && ih.stats().queued === 0);
    const payments = ih.records().filter((r) => r.kind === 'payment');
    expect(payments.length).toBeGreaterThan(0);
    for (const p of payments) {
      expect(p).toMatchObject({ status: 404, attempts: 1 });
      expect(p.id).toBeUndefined();
    }
    expect(ih.stats().rejected).toBe(payments.length);
    const retried = ih.records().find((r) => r.attempts > 1)!;
    expect(relay.posts.filter((p) => p.idempotencyKey === retried.idempotencyKey).length).toBe(retried.attempts);
    expect(retried.id).toBeDefined();
  });

  it('follows the receipts with an advancing cursor and long polls', async () => {
    const ih = await startApp({ count: 8, channels: { booking: 'bookings' }, ttlMs: 60_000 });
    await ih.settled(10_000);
    const lastSeq = Math.max(...ih.records().flatMap((r) => r.receipts.map((x) => x.receiptSeq)));
    await until(() => relay.receiptRequests.some((q) => q.after === lastSeq));
    const afters = relay.receiptRequests.map((q) => q.after);
    expect(afters[0]).toBe(0);
    for (let i = 1; i < afters.length; i++) expect(afters[i]!).toBeGreaterThanOrEqual(afters[i - 1]!);
    expect(relay.receiptRequests.every((q) => q.wait === 2_000)).toBe(true);
    expect(ih.receiptCursors()).toEqual({ bookings: lastSeq });
    expect(relay.posts.every((p) => p.ttl === '60000')).toBe(true);
  });

  it('holds a steady rate', async () => {
    const ih = await startApp({ ratePerSecond: 50, channels: { booking: 'bookings' }, readReceipts: false });
    await new Promise((r) => setTimeout(r, 600));
    const generated = ih.stats().generated;
    expect(generated).toBeGreaterThanOrEqual(25);
    expect(generated).toBeLessThanOrEqual(35);
  });
});

describe('InboundEventGenerator', () => {
  it('is reproducible for a seed and writes realistic bodies', () => {
    const a = new InboundEventGenerator({ seed: 1, patients: 5 });
    const b = new InboundEventGenerator({ seed: 1, patients: 5 });
    const events = Array.from({ length: 40 }, () => a.next());
    expect(Array.from({ length: 40 }, () => b.next())).toEqual(events);
    const booking = events.find((e) => e.kind === 'booking')!.body;
    expect(booking).toMatchObject({
      type: 'booking', bookingId: expect.stringMatching(/^YY\d{8}$/),
      patient: { id: expect.stringMatching(/^P\d{6}$/), name: expect.stringMatching(/^\p{Script=Han}{2,4}$/u), mobile: expect.stringMatching(/^1\d{10}$/) },
      department: { code: expect.any(String), name: expect.stringMatching(/科$/) },
      doctor: { id: expect.stringMatching(/^D\d{6}$/) },
      slot: { start: expect.stringMatching(/\+08:00$/), end: expect.stringMatching(/\+08:00$/) },
    });
    const payment = events.find((e) => e.kind === 'payment')!.body;
    expect(payment).toMatchObject({ type: 'payment', currency: 'CNY', method: expect.stringMatching(/^(微信|支付宝)$/), invoice: { number: expect.stringMatching(/^FP\d{12}$/) } });
    expect(typeof (payment as { amount: number }).amount).toBe('number');
  });

  it('books a taken slot now and then when slots are few', () => {
    const g = new InboundEventGenerator({ seed: 2, patients: 40, slotsPerDoctor: 4, kinds: ['booking'] });
    const slots = Array.from({ length: 60 }, () => g.next().body as { doctor: { id: string }; slot: { start: string } }).map((b) => `${b.doctor.id}@${b.slot.start}`);
    expect(new Set(slots).size).toBeLessThan(slots.length);
  });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
