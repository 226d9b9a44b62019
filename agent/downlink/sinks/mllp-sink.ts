// Delivers inbound events to the HIS as HL7 v2 over MLLP, in original mode: a pool
// of connections, each with at most one message in flight, each message answered
// by an ACK (or SRR^S01) before the next goes on that connection.
//
// Failure modes handled:
//  1. The HIS is not listening (refused, unreachable, connect timeout): retryable
//     sinkDown; the connection is opened again at the next delivery.
//  2. The connection closes or resets while a message waits for its answer:
//     retryable sinkDown (the HIS may have applied it: the resend carries the same
//     MSH-10, which it deduplicates on).
//  3. No answer within ackTimeoutMs: retryable, counted; the connection is closed,
//     so a late answer can never be read as the next message's.
//  4. A frame while nothing is in flight (a late or unsolicited answer): dropped
//     and logged, never matched to a later message. An answer to another message
//     (MSA-2), or one that is not HL7: retryable, and the connection is closed,
//     since its answers no longer line up with its messages.
//  5. An answer frame that never ends: MllpFramer's limit, the connection closed.
//  6. close() while messages are in flight or wait for a connection: each
//     resolves sinkDown, none hangs.
import net from 'node:net';
import tls from 'node:tls';
import { MllpFramer, frameMllp } from '../../hl7/index.js';
import type { ListenAddress } from '../../../runtime/index.js';
import { ackTimeoutOutcome, classifyHl7Answer } from './hl7-answer.js';
import { Hl7MessageBuilder } from './hl7-message-builder.js';
import type { InboundSink, SinkDelivery, SinkOutcome } from './inbound-sink.js';
import { sinkDownOutcome } from './sink-down.js';
import type { SinkLogger } from './sink-logger.js';

/** What a delivery after (or waiting at) close() answers. */
const CLOSED: SinkOutcome = { kind: 'retryable', code: 'closed', reason: 'the MLLP sink is closed', sinkDown: true };

/** An answer larger than this is not an ACK. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export interface MllpSinkOptions {
  address: ListenAddress;
  connections: number;
  ackTimeoutMs: number;
  connectTimeoutMs: number;
  /** TLS to the HIS; undefined = plain TCP. */
  tls?: { ca?: string | undefined; serverName?: string | undefined } | undefined;
  builder: Hl7MessageBuilder;
  log: SinkLogger;
  /** MSH-7's clock; default the system's. */
  now?: () => Date;
}

export class MllpSink implements InboundSink {
  readonly kind = 'mllp' as const;
  private readonly idle: MllpConnection[] = [];
  private readonly waiters: ((connection: MllpConnection) => void)[] = [];
  private readonly all: MllpConnection[] = [];
  private closed = false;

  constructor(private readonly options: MllpSinkOptions) {
    for (let i = 0; i < options.connections; i++) {
      const connection = new MllpConnection(i, options);
      this.all.push(connection);
      this.idle.push(connection);
    }
  }

  /** "the HIS at host:port", as reasons name it. */
  get system(): string {
    return `the HIS at ${this.options.address.host}:${this.options.address.port}`;
  }

  async deliver(delivery: SinkDelivery): Promise<SinkOutcome> {
    if (this.closed) return CLOSED;
    const built = this.options.builder.build(delivery, (this.options.now ?? (() => new Date()))());
    if (!built.ok) return { kind: 'unmappable', reason: built.reason };
    const connection = await this.acquire();
    try {
      if (this.closed) return CLOSED;
      return await connection.exchange(frameMllp(built.payload), built.controlId, this.system);
    } finally {
      this.release(connection);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    // Deliveries waiting for a connection wake up, see the sink closed and answer CLOSED.
    for (const waiter of this.waiters.splice(0)) waiter(this.all[0]!);
    await Promise.all(this.all.map((connection) => connection.close()));
  }

  private acquire(): Promise<MllpConnection> {
    const connection = this.idle.pop();
    if (connection !== undefined) return Promise.resolve(connection);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(connection: MllpConnection): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(connection);
    else this.idle.push(connection);
  }
}

interface InFlight {
  controlId: string;
  settle: (outcome: SinkOutcome) => void;
}

/** One pooled connection: opened on demand, one exchange at a time. */
class MllpConnection {
  private socket: net.Socket | undefined;
  private framer = new MllpFramer(MAX_ANSWER_BYTES);
  private inFlight: InFlight | undefined;

  constructor(
    private readonly index: number,
    private readonly options: MllpSinkOptions,
  ) {}

  /** Sends one framed message and resolves with what its answer (or its absence) means. */
  async exchange(frame: Buffer, controlId: string, system: string): Promise<SinkOutcome> {
    let socket: net.Socket;
    try {
      socket = await this.connected();
    } catch (error) {
      return sinkDownOutcome(system, error, 'connect-failed');
    }
    return new Promise<SinkOutcome>((resolve) => {
      const timer = setTimeout(() => {
        settle(ackTimeoutOutcome(this.options.ackTimeoutMs));
        // A late answer must never be read as the next message's.
        this.drop(socket);
      }, this.options.ackTimeoutMs);
      const settle = (outcome: SinkOutcome): void => {
        if (this.inFlight?.controlId !== controlId) return;
        clearTimeout(timer);
        this.inFlight = undefined;
        resolve(outcome);
      };
      this.inFlight = { controlId, settle };
      socket.write(frame);
    });
  }

  async close(): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) return;
    this.drop(socket);
    if (!socket.closed) await new Promise((resolve) => socket.once('close', resolve));
  }

  private async connected(): Promise<net.Socket> {
    if (this.socket !== undefined && !this.socket.destroyed) return this.socket;
    const { address, connectTimeoutMs, log } = this.options;
    const socket = await openSocket(address, connectTimeoutMs, this.options.tls);
    socket.setKeepAlive(true, 30_000);
    socket.setNoDelay(true);
    this.socket = socket;
    this.framer = new MllpFramer(MAX_ANSWER_BYTES);
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (error) => this.onLost(socket, error));
    socket.on('close', () => this.onLost(socket, Object.assign(new Error('the HIS closed the connection before answering'), { code: 'connection-closed' })));
    log.info({ sink: 'mllp', address: `${address.host}:${address.port}`, connection: this.index }, 'connected to the HIS');
    return socket;
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (error) {
      this.onLost(socket, error);
      this.drop(socket);
      return;
    }
    for (const frame of frames) {
      const inFlight = this.inFlight;
      if (inFlight === undefined) {
        this.options.log.warn({ sink: 'mllp', connection: this.index, bytes: frame.length }, 'the HIS sent a frame while no message waited for an answer; dropped');
        continue;
      }
      const answer = classifyHl7Answer(frame, inFlight.controlId);
      inFlight.settle(answer.outcome);
      if (answer.outOfStep) {
        // Our own answer may still come: it must not be read as the next message's.
        this.drop(socket);
        return;
      }
    }
  }

  private onLost(socket: net.Socket, error: unknown): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    const inFlight = this.inFlight;
    const { address } = this.options;
    this.options.log.warn({ sink: 'mllp', address: `${address.host}:${address.port}`, connection: this.index, code: (error as { code?: string }).code }, 'connection to the HIS lost');
    inFlight?.settle(sinkDownOutcome(`the HIS at ${address.host}:${address.port}`, error, 'connection-closed'));
    socket.destroy();
  }

  private drop(socket: net.Socket): void {
    if (this.socket === socket) this.socket = undefined;
    this.inFlight?.settle({ kind: 'retryable', code: 'closed', reason: 'the MLLP sink closed the connection', sinkDown: true });
    socket.destroy();
  }
}

/** A TCP (or TLS) connection, or the error of the attempt; bounded by timeoutMs. */
function openSocket(address: ListenAddress, timeoutMs: number, tlsOptions: MllpSinkOptions['tls']): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket =
      tlsOptions === undefined
        ? net.connect({ host: address.host, port: address.port })
        : tls.connect({ host: address.host, port: address.port, ca: tlsOptions.ca, servername: tlsOptions.serverName ?? (net.isIP(address.host) ? undefined : address.host) });
    const ready = tlsOptions === undefined ? 'connect' : 'secureConnect';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no connection within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    const failed = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', failed);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.off('error', failed);
      resolve(socket);
    });
  });
}
