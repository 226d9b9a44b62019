// A simulated hospital: HIS/LIS interfaces sending HL7 over MLLP at a target rate and
// local apps posting JSON rows, for `wardline demo`, integration tests and benchmarks.
//
// Failure modes handled:
//  1. Agent slower than the target rate, or down: each sender holds at most
//     maxQueuedPerConnection messages; beyond that the hospital stops generating and
//     falls behind (reported as `behind`), then catches up when the agent recovers, as
//     an interface engine drains its outbound queue. Memory stays bounded either way.
//  2. Ingest API unreachable or 5xx: rows stay pending and are posted again after
//     JSON_RETRY_DELAY_MS; a 4xx is the agent refusing the rows, so they are counted as
//     errors and not retried.
//  3. Per-key order: every message for a key goes over the same connection, so an
//     update never overtakes the message it updates.

import { hashSeed, SeededRandom, type Seed } from './seeded-random.js';
import { Hl7Corpus, type CorpusMessage, type JsonRow, type JsonStream } from './hl7-corpus.js';
import { MllpSender, type AckCode, type AckResult, type MllpSenderLog } from './mllp-sender.js';

/** The subset of a pino logger the simulator writes to. */
export interface SimulatorLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface SimulatedHospitalOptions {
  mllp: { host: string; port: number };
  /** Agent HTTP base, e.g. http://127.0.0.1:8480; JSON rows are only sent when set. */
  ingestUrl?: string;
  /** Messages plus JSON rows per second, across all connections. */
  ratePerSecond: number;
  /** MLLP connections (each an MllpSender). Default 2. */
  connections?: number;
  seed: Seed;
  /** Share of items that are JSON rows rather than HL7 messages, when ingestUrl is set. Default 0.1. */
  jsonShare?: number;
  /** Passed to {@link Hl7Corpus}. Default 0.2. */
  gb18030Share?: number;
  /** Passed to {@link Hl7Corpus}. Default 2000. */
  patients?: number;
  /** Simulated time of the first message. Default: the corpus default, for reproducible bytes. */
  startTime?: Date;
  /** Per sender. Default 10000 ms. */
  ackTimeoutMs?: number;
  /** Per sender. Default 200 ms. */
  reconnectDelayMs?: number;
  /** Messages awaiting ACK at once per connection; 1 is original mode. Default 1. */
  pipeline?: number;
  /** Unacknowledged messages per connection before generation pauses. Default 500. */
  maxQueuedPerConnection?: number;
  /** How long stop() waits for outstanding messages and rows to be acknowledged. Default 5000 ms. */
  stopDrainMs?: number;
  log?: SimulatorLogger;
  /** Called for every acknowledged HL7 message, e.g. to check later that the agent kept it. */
  onAck?: (message: CorpusMessage, ack: AckResult) => void;
  /** Called for every batch of rows the ingest API answered 2xx. */
  onJsonPosted?: (stream: JsonStream, rows: JsonRow['row'][]) => void;
}

export interface SimulatedHospitalStats {
  running: boolean;
  elapsedMs: number;
  /** HL7 messages transmitted at least once. */
  sent: number;
  /** ACKs by MSA-1; CA/CE/CR are enhanced-mode codes an original-mode agent should never send. */
  acked: Record<AckCode, number>;
  retransmits: number;
  ackTimeouts: number;
  connectionDrops: number;
  /** HL7 messages handed to senders and not yet acknowledged. */
  outstanding: number;
  jsonRowsPosted: number;
  jsonRowsPending: number;
  /** Send rejections, refused or failed JSON posts. */
  errors: number;
  /** Items the target rate called for that have not been generated yet (backpressure). */
  behind: number;
  /** Over the last ACK_LATENCY_WINDOW acknowledgements. */
  ackLatencyMs: { p50: number; p99: number; max: number };
}

export const DEFAULT_CONNECTIONS = 2;
export const DEFAULT_JSON_SHARE = 0.1;
export const DEFAULT_MAX_QUEUED_PER_CONNECTION = 500;
export const DEFAULT_STOP_DRAIN_MS = 5_000;
/** Timer period of the rate loop; items due within a tick are issued together. */
export const TICK_MS = 25;
export const JSON_RETRY_DELAY_MS = 1_000;
const JSON_BATCH_ROWS = 100;
const JSON_POST_TIMEOUT_MS = 10_000;
const ACK_LATENCY_WINDOW = 4096;

export class SimulatedHospital {
  private readonly corpus: Hl7Corpus;
  private readonly mix: SeededRandom;
  private readonly senders: MllpSender[];
  private readonly jsonShare: number;
  private readonly maxQueued: number;
  private readonly pendingRows = new Map<JsonStream, JsonRow['row'][]>();
  private readonly latencies: number[] = [];
  private latencyCursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private issued = 0;
  private running = false;
  private stopped = false;
  /** One post per stream at a time: a failed batch is retried before later rows for the same keys. */
  private readonly posting = new Set<JsonStream>();
  private jsonRetryAt = 0;
  private jsonRowsPosted = 0;
  private errors = 0;

  constructor(private readonly options: SimulatedHospitalOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${options.ratePerSecond}`);
    this.corpus = new Hl7Corpus({
      seed: options.seed,
      ...(options.gb18030Share === undefined ? {} : { gb18030Share: options.gb18030Share }),
      ...(options.patients === undefined ? {} : { patients: options.patients }),
      ...(options.startTime === undefined ? {} : { startTime: options.startTime }),
    });
    this.mix = new SeededRandom(`${String(options.seed)}/mix`);
    this.jsonShare = options.ingestUrl ? options.jsonShare ?? DEFAULT_JSON_SHARE : 0;
    this.maxQueued = options.maxQueuedPerConnection ?? DEFAULT_MAX_QUEUED_PER_CONNECTION;
    const connections = Math.max(1, options.connections ?? DEFAULT_CONNECTIONS);
    this.senders = Array.from({ length: connections }, (_, i) => new MllpSender({
      host: options.mllp.host,
      port: options.mllp.port,
      ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
      ...(options.reconnectDelayMs === undefined ? {} : { reconnectDelayMs: options.reconnectDelayMs }),
      ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }),
      log: this.senderLog(i),
    }));
  }

  /** Starts sending at the target rate. Connections open on the first message. */
  start(): void {
    if (this.stopped) throw new Error('SimulatedHospital cannot be restarted after stop()');
    if (this.running) return;
    this.running = true;
    this.startedAt = Date.now();
    this.options.log?.info(
      { mllp: `${this.options.mllp.host}:${this.options.mllp.port}`, ratePerSecond: this.options.ratePerSecond, connections: this.senders.length },
      'simulated hospital started',
    );
    this.schedule();
  }

  /**
   * Stops generating, waits up to stopDrainMs for outstanding messages and rows to be
   * acknowledged, then closes the connections (what is still unacknowledged is abandoned).
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    clearTimeout(this.timer);
    const deadline = Date.now() + (this.options.stopDrainMs ?? DEFAULT_STOP_DRAIN_MS);
    while (Date.now() < deadline && (this.outstanding() > 0 || this.posting.size > 0 || this.rowsPending() > 0)) {
      this.flushJson();
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    await Promise.all(this.senders.map((s) => s.close()));
    this.options.log?.info(this.stats(), 'simulated hospital stopped');
  }

  stats(): SimulatedHospitalStats {
    let sent = 0;
    let retransmits = 0;
    let ackTimeouts = 0;
    let connectionDrops = 0;
    const acked: Record<AckCode, number> = { AA: 0, AE: 0, AR: 0, CA: 0, CE: 0, CR: 0 };
    for (const s of this.senders) {
      const c = s.counters;
      sent += c.sent;
      retransmits += c.retransmitted;
      ackTimeouts += c.ackTimeouts;
      connectionDrops += c.drops;
      for (const code of Object.keys(acked) as AckCode[]) acked[code] += c.acked[code];
    }
    const elapsedMs = this.startedAt === 0 ? 0 : Date.now() - this.startedAt;
    const sorted = this.latencies.slice().sort((a, b) => a - b);
    const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    return {
      running: this.running,
      elapsedMs,
      sent,
      acked,
      retransmits,
      ackTimeouts,
      connectionDrops,
      outstanding: this.outstanding(),
      jsonRowsPosted: this.jsonRowsPosted,
      jsonRowsPending: this.rowsPending(),
      errors: this.errors,
      behind: this.running ? Math.max(0, this.due() - this.issued) : 0,
      ackLatencyMs: { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 },
    };
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      if (!this.running) return;
      this.tick();
      this.schedule();
    }, TICK_MS);
  }

  private due(): number {
    return Math.floor(((Date.now() - this.startedAt) / 1000) * this.options.ratePerSecond);
  }

  private tick(): void {
    const due = this.due();
    while (this.issued < due && !this.saturated()) {
      this.issued++;
      if (this.jsonShare > 0 && this.mix.chance(this.jsonShare)) {
        const { stream, row } = this.corpus.nextJsonRow();
        const rows = this.pendingRows.get(stream) ?? [];
        rows.push(row);
        this.pendingRows.set(stream, rows);
      } else {
        this.sendHl7(this.corpus.next());
      }
    }
    this.flushJson();
  }

  private saturated(): boolean {
    return this.senders.some((s) => s.outstanding >= this.maxQueued) || this.rowsPending() >= this.maxQueued;
  }

  private sendHl7(message: CorpusMessage): void {
    const sender = this.senders[hashSeed(message.key) % this.senders.length]!;
    sender.send(message.bytes, message.controlId).then(
      (ack) => {
        this.recordLatency(ack.latencyMs);
        if (ack.code !== 'AA') this.options.log?.warn({ controlId: ack.controlId, code: ack.code, text: ack.text }, 'message not accepted');
        this.options.onAck?.(message, ack);
      },
      (error: unknown) => {
        // Rejections after stop() are the abandoned remainder, already visible in stats.
        if (this.stopped) return;
        this.errors++;
        this.options.log?.warn({ controlId: message.controlId, error: String(error) }, 'message send failed');
      },
    );
  }

  private flushJson(): void {
    const base = this.options.ingestUrl;
    if (!base || Date.now() < this.jsonRetryAt) return;
    for (const [stream, rows] of this.pendingRows) {
      if (rows.length === 0 || this.posting.has(stream)) continue;
      void this.post(base, stream, rows.splice(0, JSON_BATCH_ROWS));
    }
  }

  private async post(base: string, stream: JsonStream, rows: JsonRow['row'][]): Promise<void> {
    this.posting.add(stream);
    try {
      const response = await fetch(`${base.replace(/\/+$/, '')}/v1/ingest/${encodeURIComponent(stream)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // A single row goes as an object and several as an array: local apps do both.
        body: JSON.stringify(rows.length === 1 ? rows[0] : rows),
        signal: AbortSignal.timeout(JSON_POST_TIMEOUT_MS),
      });
      const detail = response.ok ? '' : (await response.text().catch(() => '')).slice(0, 200);
      if (response.ok) {
        await response.body?.cancel().catch(() => {});
        this.jsonRowsPosted += rows.length;
        this.options.onJsonPosted?.(stream, rows);
      } else if (response.status >= 400 && response.status < 500) {
        this.errors++;
        this.options.log?.warn({ stream, status: response.status, rows: rows.length, detail }, 'ingest refused rows');
      } else {
        this.retryRows(stream, rows, `HTTP ${response.status} ${detail}`);
      }
    } catch (error) {
      this.retryRows(stream, rows, String(error));
    } finally {
      this.posting.delete(stream);
    }
  }

  private retryRows(stream: JsonStream, rows: JsonRow['row'][], reason: string): void {
    this.errors++;
    this.jsonRetryAt = Date.now() + JSON_RETRY_DELAY_MS;
    // Back at the front, so rows for a key keep their order.
    const pending = this.pendingRows.get(stream) ?? [];
    pending.unshift(...rows);
    this.pendingRows.set(stream, pending);
    this.options.log?.warn({ stream, rows: rows.length, reason }, 'ingest post failed; will retry');
  }

  private recordLatency(ms: number): void {
    if (this.latencies.length < ACK_LATENCY_WINDOW) this.latencies.push(ms);
    else this.latencies[this.latencyCursor++ % ACK_LATENCY_WINDOW] = ms;
  }

  private outstanding(): number {
    return this.senders.reduce((n, s) => n + s.outstanding, 0);
  }

  private rowsPending(): number {
    let n = 0;
    for (const rows of this.pendingRows.values()) n += rows.length;
    return n;
  }

  private senderLog(index: number): MllpSenderLog {
    return (event, fields) => {
      const log = this.options.log;
      if (!log) return;
      const tagged = { connection: index, ...fields };
      if (event === 'ack-timeout' || event === 'bad-frame' || event === 'unmatched-ack' || event === 'unreadable-ack') log.warn(tagged, `mllp ${event}`);
      else log.debug(tagged, `mllp ${event}`);
    };
  }
}
