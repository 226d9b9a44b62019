// An internet-hospital app (互联网医院) writing to its hospital through the relay's inbound
// API, for `wardline demo`, the downlink's integration and fault tests and benchmarks:
// registrations, bookings and payments from a seeded set of patients posted to
// POST /v1/hospitals/{hospital}/inbound/{channel}, and every channel's receipts followed,
// so each event's path from POST to the hospital's answer is on record.
//
// Failure modes handled:
//  1. A POST with no answer (connection refused or cut, timeout) or a 408/429/5xx: sent
//     again after a doubling delay with the SAME Idempotency-Key and the same bytes, as
//     often as it takes — the relay answers a repeat with the first id. The event's key
//     stays busy meanwhile, so a later event of the patient never overtakes it.
//  2. A 4xx refusal (400, 403, 404, 409, 413, 422): recorded with the relay's text, not
//     retried (resending cannot change the answer).
//  3. One patient's events in order: at most one POST per patient key in flight, each
//     sent only after the one before it was answered.
//  4. Relay slower than the rate: at most maxQueued events wait; beyond that the app stops
//     generating and reports `behind`, memory bounded.
//  5. A receipt read before its POST's answer (a lost answer, then a resend): kept by id
//     and joined to the event when the answer comes.

import { randomUUID } from 'node:crypto';
import type { ReceiptOutcome } from '../../protocol/index.js';
import type { Seed } from '../seeded-random.js';
import type { SimulatorLogger } from '../simulated-hospital.js';
import { InboundEventGenerator, type AppEventBody, type InboundEventKind } from './inbound-event-generator.js';
import { ReceiptReader, type VendorReceipt } from './receipt-reader.js';

export interface InternetHospitalOptions {
  /** Relay HTTP base, e.g. http://127.0.0.1:8443. */
  relayUrl: string;
  hospital: string;
  /** The vendor's API key (Authorization: Bearer). */
  vendorKey: string;
  /** The relay channel each kind is written to; kinds without one are not generated. */
  channels: Partial<Record<InboundEventKind, string>>;
  seed: Seed;
  /** Patients in the seeded set. Default 50. */
  patients?: number;
  /** Events per second; omitted = as fast as `concurrency` allows. */
  ratePerSecond?: number;
  /** Stop generating after this many events. Default: no end. */
  count?: number;
  /** POSTs in flight at once (each for a different patient). Default 8. */
  concurrency?: number;
  /** Events generated and not yet answered before generation pauses. Default 1000. */
  maxQueued?: number;
  /** A POST not answered within this is abandoned and sent again. Default 10000 ms. */
  postTimeoutMs?: number;
  /** First pause before a resend, doubling to retryMaxMs. Default 250 ms. */
  retryDelayMs?: number;
  /** Default 5000 ms. */
  retryMaxMs?: number;
  /** Sent as Wardline-TTL-Ms when set. */
  ttlMs?: number;
  /** Follow each channel's receipts. Default true. */
  readReceipts?: boolean;
  /** Long-poll wait of the receipt reader. Default 10000 ms. */
  receiptWaitMs?: number;
  /** The receipt cursor to start after, per channel. Default 0. */
  receiptsAfter?: Record<string, number>;
  /** Bookable slots per doctor (fewer = more bookings of a taken slot). Default 32. */
  slotsPerDoctor?: number;
  startTime?: Date;
  log?: SimulatorLogger;
}

/** One event the app wrote, and what became of it. */
export interface InboundPostRecord {
  /** Order generated, from 1. */
  seq: number;
  kind: InboundEventKind;
  channel: string;
  /** The patient id: the ordering key. */
  key: string;
  idempotencyKey: string;
  body: AppEventBody;
  /** Date.now() of the first POST attempt; 0 while queued. */
  postedAtMs: number;
  /** When a 2xx or a refusing 4xx arrived; 0 before. */
  answeredAtMs: number;
  attempts: number;
  /** The relay's inbound id, once answered 2xx. */
  id?: string;
  /** The HTTP status of the answer that ended the POST. */
  status?: number;
  /** The relay said Idempotent-Replayed: true (a resend after a lost answer). */
  replayed: boolean;
  /** Why the relay refused it (4xx) or the last failure before a resend. */
  error?: string;
  /** Every receipt of the event in arrival order (a quarantine notice, then a final). */
  receipts: (VendorReceipt & { arrivedAtMs: number })[];
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface InternetHospitalStats {
  running: boolean;
  elapsedMs: number;
  generated: number;
  /** Events whose first POST was sent. */
  posted: number;
  /** Events the relay answered 2xx. */
  answered: number;
  /** Of those, answered as a replay of a repeated key. */
  replayed: number;
  /** Events refused 4xx. */
  rejected: number;
  /** POST attempts beyond the first. */
  resends: number;
  inFlight: number;
  /** Generated, not yet posted. */
  queued: number;
  /** Events the rate called for and not generated (backpressure). */
  behind: number;
  receipts: Record<ReceiptOutcome, number>;
  /** Answered events without a final receipt yet. */
  awaitingFinal: number;
  /** Receipts whose id is no event of this run (yet). */
  unmatchedReceipts: number;
  /** From the first POST attempt to the arrival of the final receipt, ms. */
  latencyMs: LatencySummary;
  /** From the first POST attempt to the 2xx answer, ms. */
  answerLatencyMs: LatencySummary;
}

export const DEFAULT_INTERNET_HOSPITAL_CONCURRENCY = 8;
export const DEFAULT_INTERNET_HOSPITAL_MAX_QUEUED = 1000;
export const DEFAULT_POST_TIMEOUT_MS = 10_000;
const TICK_MS = 25;

export class InternetHospital {
  private readonly generator: InboundEventGenerator;
  private readonly readers: ReceiptReader[] = [];
  private readonly list: InboundPostRecord[] = [];
  private readonly byId = new Map<string, InboundPostRecord>();
  private readonly orphans = new Map<string, (VendorReceipt & { arrivedAtMs: number })[]>();
  private readonly queue: InboundPostRecord[] = [];
  private readonly busyKeys = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopController = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private stoppedAt = 0;
  private running = false;
  private behind = 0;
  private resends = 0;

  constructor(private readonly options: InternetHospitalOptions) {
    const kinds = (Object.keys(options.channels) as InboundEventKind[]).filter((k) => options.channels[k] !== undefined);
    if (kinds.length === 0) throw new RangeError('channels must name a channel for at least one of registration, booking, payment');
    if (options.ratePerSecond !== undefined && !(options.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${options.ratePerSecond}`);
    this.generator = new InboundEventGenerator({
      seed: options.seed,
      kinds,
      ...(options.patients === undefined ? {} : { patients: options.patients }),
      ...(options.slotsPerDoctor === undefined ? {} : { slotsPerDoctor: options.slotsPerDoctor }),
      ...(options.startTime === undefined ? {} : { startTime: options.startTime }),
    });
  }

  start(): void {
    if (this.running || this.stopController.signal.aborted) return;
    this.running = true;
    this.startedAt = Date.now();
    if (this.options.readReceipts ?? true) {
      for (const channel of new Set(Object.values(this.options.channels))) {
        if (channel === undefined) continue;
        const reader = new ReceiptReader({
          relayUrl: this.options.relayUrl,
          hospital: this.options.hospital,
          channel,
          vendorKey: this.options.vendorKey,
          after: this.options.receiptsAfter?.[channel] ?? 0,
          waitMs: this.options.receiptWaitMs ?? 10_000,
          onReceipt: (receipt, arrivedAtMs) => this.takeReceipt(receipt, arrivedAtMs),
          onError: (error) => this.options.log?.debug({ channel, err: error.message }, 'receipt read failed; reading again'),
        });
        this.readers.push(reader);
        reader.start();
      }
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.tick();
  }

  /**
   * Stops generating, waits up to drainMs for POSTs in flight (and their resends) to be
   * answered, then abandons them and stops reading receipts.
   */
  async stop(drainMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    const deadline = Date.now() + drainMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) await Promise.race([...this.inFlight, delay(Math.max(1, deadline - Date.now()))]);
    this.stopController.abort();
    await Promise.allSettled([...this.inFlight]);
    await Promise.all(this.readers.map((r) => r.stop()));
    this.stoppedAt = Date.now();
  }

  /** Every event generated, in order. */
  records(): readonly InboundPostRecord[] {
    return this.list;
  }

  /** The event the relay gave `id`. */
  record(id: string): InboundPostRecord | undefined {
    return this.byId.get(id);
  }

  /** The receipt cursor per channel (the highest receiptSeq read). */
  receiptCursors(): Record<string, number> {
    const cursors: Record<string, number> = {};
    const channels = [...new Set(Object.values(this.options.channels))].filter((c): c is string => c !== undefined);
    this.readers.forEach((reader, i) => (cursors[channels[i]!] = reader.cursor));
    return cursors;
  }

  /**
   * Resolves once `count` events were generated (or `generated()` when no count), every
   * one answered and every answered one has its final receipt; rejects after timeoutMs
   * with the stats so far. With readReceipts false no event gets a final receipt, so
   * it only settles when nothing was answered; use stats() then.
   */
  async settled(timeoutMs: number): Promise<InternetHospitalStats> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.stats();
      const allGenerated = this.options.count === undefined || s.generated >= this.options.count;
      if (allGenerated && s.queued === 0 && s.inFlight === 0 && s.awaitingFinal === 0) return s;
      if (Date.now() >= deadline) throw new Error(`internet hospital not settled within ${timeoutMs} ms: ${JSON.stringify(s)}`);
      await delay(20);
    }
  }

  stats(): InternetHospitalStats {
    const receipts: Record<ReceiptOutcome, number> = { accepted: 0, refused: 0, expired: 0, quarantined: 0 };
    const latencies: number[] = [];
    const answerLatencies: number[] = [];
    let posted = 0;
    let answered = 0;
    let replayed = 0;
    let rejected = 0;
    let awaitingFinal = 0;
    for (const r of this.list) {
      if (r.postedAtMs > 0) posted++;
      if (r.id !== undefined) {
        answered++;
        answerLatencies.push(r.answeredAtMs - r.postedAtMs);
        const final = r.receipts.find((x) => x.final);
        if (final) latencies.push(final.arrivedAtMs - r.postedAtMs);
        else awaitingFinal++;
      } else if (r.status !== undefined) rejected++;
      if (r.replayed) replayed++;
      for (const x of r.receipts) receipts[x.outcome]++;
    }
    let unmatched = 0;
    for (const list of this.orphans.values()) unmatched += list.length;
    const end = this.running ? Date.now() : this.stoppedAt || Date.now();
    return {
      running: this.running,
      elapsedMs: this.startedAt === 0 ? 0 : end - this.startedAt,
      generated: this.list.length,
      posted,
      answered,
      replayed,
      rejected,
      resends: this.resends,
      inFlight: this.inFlight.size,
      queued: this.queue.length,
      behind: this.behind,
      receipts,
      awaitingFinal,
      unmatchedReceipts: unmatched,
      latencyMs: summarize(latencies),
      answerLatencyMs: summarize(answerLatencies),
    };
  }

  private tick(): void {
    if (!this.running) return;
    const max = this.options.count ?? Infinity;
    const unanswered = this.queue.length + this.inFlight.size;
    const room = Math.max(0, (this.options.maxQueued ?? DEFAULT_INTERNET_HOSPITAL_MAX_QUEUED) - unanswered);
    let due: number;
    if (this.options.ratePerSecond === undefined) {
      // As fast as allowed: keep two POST slots' worth queued, so a freed slot never waits for the next tick.
      due = Math.min(Math.max(0, 2 * this.concurrency() - this.queue.length), room);
      this.behind = 0;
    } else {
      const target = Math.floor(((Date.now() - this.startedAt) / 1000) * this.options.ratePerSecond);
      const wanted = Math.max(0, Math.min(target, max) - this.list.length);
      due = Math.min(wanted, room);
      this.behind = wanted - due;
    }
    due = Math.min(due, max - this.list.length);
    for (let i = 0; i < due; i++) this.generate();
    this.pump();
  }

  private concurrency(): number {
    return this.options.concurrency ?? DEFAULT_INTERNET_HOSPITAL_CONCURRENCY;
  }

  private generate(): void {
    const event = this.generator.next();
    const record: InboundPostRecord = {
      seq: this.list.length + 1,
      kind: event.kind,
      channel: this.options.channels[event.kind]!,
      key: event.key,
      idempotencyKey: randomUUID(),
      body: event.body,
      postedAtMs: 0,
      answeredAtMs: 0,
      attempts: 0,
      replayed: false,
      receipts: [],
    };
    this.list.push(record);
    this.queue.push(record);
  }

  /** Starts POSTs for the oldest queued events whose patient has none in flight. */
  private pump(): void {
    if (!this.running) return;
    const blocked = new Set<string>();
    for (let i = 0; i < this.queue.length && this.inFlight.size < this.concurrency(); ) {
      const record = this.queue[i]!;
      // An earlier event of this patient still queued or in flight goes first.
      if (this.busyKeys.has(record.key) || blocked.has(record.key)) {
        blocked.add(record.key);
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.busyKeys.add(record.key);
      const post = this.post(record).finally(() => {
        this.inFlight.delete(post);
        this.busyKeys.delete(record.key);
        this.pump();
      });
      this.inFlight.add(post);
    }
  }

  /** POSTs one event until the relay answers it (2xx or a final 4xx), or the app stops. */
  private async post(record: InboundPostRecord): Promise<void> {
    const { relayUrl, hospital, vendorKey } = this.options;
    const url = new URL(`/v1/hospitals/${encodeURIComponent(hospital)}/inbound/${encodeURIComponent(record.channel)}`, relayUrl);
    const body = JSON.stringify(record.body);
    const headers: Record<string, string> = {
      authorization: `Bearer ${vendorKey}`,
      'content-type': 'application/json',
      'idempotency-key': record.idempotencyKey,
    };
    if (this.options.ttlMs !== undefined) headers['wardline-ttl-ms'] = String(this.options.ttlMs);
    let retryDelay = this.options.retryDelayMs ?? 250;
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      record.attempts++;
      if (record.attempts === 1) record.postedAtMs = Date.now();
      else this.resends++;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.postTimeoutMs ?? DEFAULT_POST_TIMEOUT_MS)]),
        });
        const text = await response.text();
        if (response.status >= 200 && response.status < 300) {
          const answer = JSON.parse(text) as { id?: unknown };
          if (typeof answer.id !== 'string') throw new Error(`HTTP ${response.status} without an id: ${text.slice(0, 200)}`);
          record.status = response.status;
          record.answeredAtMs = Date.now();
          record.replayed = response.headers.get('idempotent-replayed') === 'true';
          record.id = answer.id;
          this.byId.set(answer.id, record);
          const early = this.orphans.get(answer.id);
          if (early) {
            this.orphans.delete(answer.id);
            record.receipts.push(...early);
          }
          return;
        }
        if (!isRetryableStatus(response.status)) {
          record.status = response.status;
          record.answeredAtMs = Date.now();
          record.error = text.slice(0, 500);
          this.options.log?.warn({ channel: record.channel, seq: record.seq, status: response.status }, 'relay refused an inbound event');
          return;
        }
        record.error = `HTTP ${response.status}`;
      } catch (error) {
        if (signal.aborted) return;
        record.error = (error as Error).message;
      }
      this.options.log?.debug({ channel: record.channel, seq: record.seq, attempt: record.attempts, error: record.error }, 'inbound POST not answered; sending again with the same Idempotency-Key');
      await delay(retryDelay, signal);
      retryDelay = Math.min(retryDelay * 2, this.options.retryMaxMs ?? 5_000);
    }
  }

  private takeReceipt(receipt: VendorReceipt, arrivedAtMs: number): void {
    const entry = { ...receipt, arrivedAtMs };
    const record = this.byId.get(receipt.id);
    if (record) {
      record.receipts.push(entry);
      return;
    }
    const list = this.orphans.get(receipt.id) ?? [];
    list.push(entry);
    this.orphans.set(receipt.id, list);
  }
}

/** Statuses after which the same POST may succeed: the relay did not decide on the event. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Nearest-rank percentiles, ms; zeros when empty. */
export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
