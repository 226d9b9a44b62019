// An MLLP client that behaves as a hospital HIS/LIS interface engine does, so that the
// agent's acknowledgement and dedupe rules are tested against realistic senders.
//
// Failure modes handled:
//  1. Nobody listening (agent down or restarting): reconnect every reconnectDelayMs,
//     messages stay queued in order.
//  2. The connection drops while waiting for an ACK: reconnect and send the same bytes
//     again (same MSH-10); the agent must answer AA without journaling twice.
//  3. No ACK within ackTimeoutMs (agent stalled, half-open link): drop the connection,
//     reconnect and retransmit, as real senders do; ACKs on the old connection are lost
//     with it, never misattributed.
//  4. An ACK for a message not waiting (late, or for another sender): counted, ignored.
//  5. An ACK with an empty MSA-2 (the receiver could not read MSH-10): in original mode
//     (pipeline 1) it can only be for the message on the wire, so it is taken as such.
//  6. A connect that never completes (SYN blackholed): given up after connectTimeoutMs.

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import iconv from 'iconv-lite';
import { frameMllp, MllpFramer } from '../agent/hl7/index.js';

export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';
const ACK_CODES: ReadonlySet<string> = new Set<AckCode>(['AA', 'AE', 'AR', 'CA', 'CE', 'CR']);

export interface AckResult {
  /** MSA-1. */
  code: AckCode;
  /** MSA-2 as received (the MSH-10 of the message acknowledged). */
  controlId: string;
  /** From the first transmission to the ACK, retransmissions included; time queued behind other messages excluded. */
  latencyMs: number;
  /** What the receiver said: MSA-3, else ERR-8, else the text of ERR-3; '' when nothing. */
  text: string;
  /** Transmissions it took, 1 when the first one was acknowledged. */
  attempts: number;
  /** The whole ACK, decoded per its MSH-18, segments separated by CR. */
  raw: string;
}

export interface MllpSenderOptions {
  host: string;
  port: number;
  /** Wait this long for an ACK before dropping the connection and retransmitting. Default 10000 ms. */
  ackTimeoutMs?: number;
  /** Pause between losing a connection (or failing to get one) and the next connect. Default 200 ms. */
  reconnectDelayMs?: number;
  /** Messages on the wire awaiting ACK at once; 1 is HL7 original mode. Default 1. */
  pipeline?: number;
  /** Transmissions per message before send() rejects. Default Infinity (retry until close()). */
  maxAttempts?: number;
  /** Give up a connect attempt after this long. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Receives state changes and faults; silent when omitted. */
  log?: MllpSenderLog;
}

export type MllpSenderLog = (event: string, fields: Record<string, unknown>) => void;

export const DEFAULT_ACK_TIMEOUT_MS = 10_000;
export const DEFAULT_RECONNECT_DELAY_MS = 200;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** idle: no connection, nothing to send. backoff: waiting reconnectDelayMs before connecting again. */
export type MllpSenderState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

const TRANSITIONS: Record<MllpSenderState, readonly MllpSenderState[]> = {
  idle: ['connecting', 'closed'],
  connecting: ['ready', 'backoff', 'idle', 'closed'],
  ready: ['backoff', 'idle', 'closed'],
  backoff: ['connecting', 'idle', 'closed'],
  closed: [],
};

export interface MllpSenderCounters {
  /** Messages transmitted for the first time. */
  sent: number;
  /** Transmissions after the first, per message summed. */
  retransmitted: number;
  acked: Record<AckCode, number>;
  /** ACKs that did not arrive within ackTimeoutMs. */
  ackTimeouts: number;
  /** Established connections lost (by either side, or dropped after an ACK timeout). */
  drops: number;
  connects: number;
  connectFailures: number;
  /** ACKs that matched no message on the wire. */
  unmatchedAcks: number;
  /** Messages given up after maxAttempts. */
  failed: number;
}

export class MllpSendError extends Error {
  override name = 'MllpSendError';
  constructor(
    message: string,
    readonly controlId: string,
    readonly attempts: number,
    /** True when sending again later may succeed (sender closed, attempts exhausted). */
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Outgoing {
  controlId: string;
  frame: Buffer;
  attempts: number;
  firstSentAt: number;
  onWire: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve: (ack: AckResult) => void;
  reject: (error: Error) => void;
}

export class MllpSender {
  private readonly ackTimeoutMs: number;
  private readonly reconnectDelayMs: number;
  private readonly pipeline: number;
  private readonly maxAttempts: number;
  private readonly connectTimeoutMs: number;
  private readonly log: MllpSenderLog;
  private currentState: MllpSenderState = 'idle';
  private socket: net.Socket | undefined;
  private framer = new MllpFramer();
  private stateTimer: NodeJS.Timeout | undefined;
  /** In send order; those with onWire set are awaiting their ACK on the current connection. */
  private readonly queue: Outgoing[] = [];
  private closing: Promise<void> | undefined;

  readonly counters: MllpSenderCounters = {
    sent: 0,
    retransmitted: 0,
    acked: { AA: 0, AE: 0, AR: 0, CA: 0, CE: 0, CR: 0 },
    ackTimeouts: 0,
    drops: 0,
    connects: 0,
    connectFailures: 0,
    unmatchedAcks: 0,
    failed: 0,
  };

  constructor(private readonly options: MllpSenderOptions) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.reconnectDelayMs = options.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS;
    this.pipeline = Math.max(1, options.pipeline ?? 1);
    this.maxAttempts = options.maxAttempts ?? Infinity;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.log = options.log ?? (() => {});
  }

  get state(): MllpSenderState {
    return this.currentState;
  }

  /** Messages accepted by send() and not yet acknowledged (on the wire or queued). */
  get outstanding(): number {
    return this.queue.length;
  }

  /**
   * Sends one HL7 message and resolves with its ACK, retransmitting on timeouts and drops.
   * Connects on first use. Rejects with {@link MllpSendError} when maxAttempts is reached
   * or the sender is closed first.
   * @param message the encoded HL7 message, without MLLP framing.
   * @param controlId its MSH-10, to match the ACK's MSA-2.
   */
  send(message: Buffer, controlId: string): Promise<AckResult> {
    if (this.currentState === 'closed') {
      return Promise.reject(new MllpSendError('MLLP sender is closed', controlId, 0, true));
    }
    return new Promise<AckResult>((resolve, reject) => {
      this.queue.push({ controlId, frame: frameMllp(message), attempts: 0, firstSentAt: 0, onWire: false, timer: undefined, resolve, reject });
      if (this.currentState === 'idle') this.transition('connecting');
      else if (this.currentState === 'ready') this.pump();
    });
  }

  /** Stops at once: rejects every unacknowledged message and closes the connection. */
  close(): Promise<void> {
    if (!this.closing) {
      const socket = this.socket;
      this.closing = new Promise<void>((resolve) => {
        if (!socket || socket.destroyed) resolve();
        else socket.once('close', () => resolve());
      });
      this.transition('closed');
    }
    return this.closing;
  }

  private transition(to: MllpSenderState): void {
    const from = this.currentState;
    if (!TRANSITIONS[from].includes(to)) throw new Error(`MllpSender: illegal transition ${from} -> ${to}`);
    this.currentState = to;
    this.log('state', { from, to, host: this.options.host, port: this.options.port });
    clearTimeout(this.stateTimer);
    this.stateTimer = undefined;
    switch (to) {
      case 'connecting':
        this.connect();
        break;
      case 'ready':
        this.counters.connects++;
        this.pump();
        break;
      case 'backoff':
        this.stateTimer = setTimeout(() => this.transition('connecting'), this.reconnectDelayMs);
        break;
      case 'idle':
        break;
      case 'closed': {
        this.detachSocket();
        const abandoned = this.queue.splice(0);
        for (const entry of abandoned) {
          clearTimeout(entry.timer);
          entry.reject(new MllpSendError(`MLLP sender closed before ${entry.controlId} was acknowledged`, entry.controlId, entry.attempts, true));
        }
        break;
      }
    }
  }

  private connect(): void {
    const socket = net.createConnection({ host: this.options.host, port: this.options.port });
    socket.setNoDelay(true);
    this.socket = socket;
    this.framer = new MllpFramer();
    this.stateTimer = setTimeout(() => {
      this.log('connect-timeout', { timeoutMs: this.connectTimeoutMs });
      this.lose(socket);
    }, this.connectTimeoutMs);
    // Events from a socket we already gave up on must not touch the current one.
    socket.on('connect', () => {
      if (socket === this.socket && this.currentState === 'connecting') this.transition('ready');
    });
    socket.on('data', (chunk: Buffer) => {
      if (socket !== this.socket) return;
      let frames: Buffer[];
      try {
        frames = this.framer.push(chunk);
      } catch (error) {
        this.log('bad-frame', { error: String(error) });
        this.lose(socket);
        return;
      }
      for (const frame of frames) this.onAck(frame);
    });
    socket.on('error', (error) => {
      if (socket === this.socket) this.log('socket-error', { error: error.message });
    });
    socket.on('close', () => {
      if (socket === this.socket) this.lose(socket);
    });
  }

  /** Abandons `socket` (dead, stalled or refused) and everything on the wire with it. */
  private lose(socket: net.Socket): void {
    if (socket !== this.socket) return;
    if (this.currentState === 'ready') this.counters.drops++;
    else if (this.currentState === 'connecting') this.counters.connectFailures++;
    this.detachSocket();
    if (this.currentState === 'closed') return;
    this.transition(this.queue.length > 0 ? 'backoff' : 'idle');
  }

  private detachSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    // Whatever was on the wire goes out again on the next connection.
    for (const entry of this.queue) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.onWire = false;
    }
    socket?.destroy();
  }

  /** Writes queued messages while fewer than `pipeline` await their ACK. */
  private pump(): void {
    const socket = this.socket;
    if (this.currentState !== 'ready' || !socket) return;
    let onWire = this.queue.filter((e) => e.onWire).length;
    for (let i = 0; i < this.queue.length && onWire < this.pipeline; ) {
      const entry = this.queue[i]!;
      if (entry.onWire) {
        i++;
        continue;
      }
      if (entry.attempts >= this.maxAttempts) {
        this.queue.splice(i, 1);
        this.counters.failed++;
        entry.reject(new MllpSendError(`no ACK for ${entry.controlId} after ${entry.attempts} attempts`, entry.controlId, entry.attempts, true));
        continue;
      }
      entry.attempts++;
      if (entry.attempts === 1) {
        this.counters.sent++;
        entry.firstSentAt = performance.now();
      } else {
        this.counters.retransmitted++;
        this.log('retransmit', { controlId: entry.controlId, attempt: entry.attempts });
      }
      entry.onWire = true;
      entry.timer = setTimeout(() => this.onAckTimeout(entry), this.ackTimeoutMs);
      socket.write(entry.frame);
      onWire++;
      i++;
    }
  }

  private onAckTimeout(entry: Outgoing): void {
    if (!entry.onWire || !this.socket) return;
    this.counters.ackTimeouts++;
    this.log('ack-timeout', { controlId: entry.controlId, attempt: entry.attempts, timeoutMs: this.ackTimeoutMs });
    this.lose(this.socket);
  }

  private onAck(payload: Buffer): void {
    const ack = parseAck(payload);
    if (!ack) {
      this.counters.unmatchedAcks++;
      this.log('unreadable-ack', { bytes: payload.length });
      return;
    }
    let index = this.queue.findIndex((e) => e.onWire && e.controlId === ack.controlId);
    if (index < 0 && ack.controlId === '' && this.pipeline === 1) index = this.queue.findIndex((e) => e.onWire);
    if (index < 0) {
      this.counters.unmatchedAcks++;
      this.log('unmatched-ack', { controlId: ack.controlId, code: ack.code });
      return;
    }
    const [entry] = this.queue.splice(index, 1) as [Outgoing];
    clearTimeout(entry.timer);
    this.counters.acked[ack.code]++;
    entry.resolve({ ...ack, controlId: ack.controlId || entry.controlId, attempts: entry.attempts, latencyMs: performance.now() - entry.firstSentAt });
    this.pump();
  }
}

/**
 * MSH-18 values (HL7 table 0211, and the non-standard spellings seen in the field) to
 * iconv names, keyed without spaces, hyphens, slashes or underscores.
 */
const CHARSETS: Record<string, string> = {
  UNICODEUTF8: 'utf8',
  UTF8: 'utf8',
  GB180302000: 'gb18030',
  GB180302005: 'gb18030',
  GB18030: 'gb18030',
  GBK: 'gbk',
  GB2312: 'gb2312',
  '88591': 'latin1',
  ASCII: 'ascii',
};

function iconvName(msh18: string): string {
  const key = msh18.toUpperCase().replace(/[\s\-/_]/g, '');
  return CHARSETS[key] ?? (key !== '' && iconv.encodingExists(key) ? key : 'utf8');
}

/**
 * Reads MSA-1, MSA-2 and the receiver's text from an ACK. Deliberately minimal: the
 * sender needs three fields, not a parser. Returns undefined when there is no MSA or
 * MSA-1 is not an acknowledgement code.
 */
export function parseAck(payload: Buffer): Omit<AckResult, 'latencyMs' | 'attempts'> | undefined {
  // The delimiters and MSH-18 are ASCII in every charset a receiver may use, so a latin1
  // pass finds the charset before the real decode.
  const probe = payload.toString('latin1');
  const mshStart = probe.indexOf('MSH');
  const fieldSep = mshStart >= 0 ? probe[mshStart + 3] ?? '|' : '|';
  const componentSep = mshStart >= 0 ? probe[mshStart + 4] ?? '^' : '^';
  const escapeChar = mshStart >= 0 ? probe[mshStart + 6] ?? '\\' : '\\';
  const probeMsh = splitSegments(probe).find((s) => s.startsWith('MSH'));
  const raw = iconv.decode(payload, iconvName(probeMsh?.split(fieldSep)[17]?.split(componentSep)[0] ?? ''));
  const segments = splitSegments(raw);
  const msa = segments.find((s) => s.startsWith(`MSA${fieldSep}`))?.split(fieldSep);
  const code = msa?.[1]?.trim() ?? '';
  if (!msa || !ACK_CODES.has(code)) return undefined;
  const err = segments.find((s) => s.startsWith(`ERR${fieldSep}`))?.split(fieldSep);
  const text = msa[3] || err?.[8] || err?.[3]?.split(componentSep)[1] || '';
  return {
    code: code as AckCode,
    controlId: (msa[2] ?? '').trim(),
    text: unescape(text, escapeChar),
    raw: segments.join('\r'),
  };
}

function splitSegments(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((s) => s.length > 0);
}

function unescape(text: string, escapeChar: string): string {
  if (!text.includes(escapeChar)) return text;
  const e = escapeChar;
  const map: Record<string, string> = { F: '|', S: '^', R: '~', T: '&', E: e };
  return text.replace(new RegExp(`\\${e}([FSRTE])\\${e}`, 'g'), (_, k: string) => map[k]!);
}
