import net from 'node:net';
import type { AddressInfo } from 'node:net';
import iconv from 'iconv-lite';
import { afterEach, describe, expect, it } from 'vitest';
import { frameMllp, MllpFramer } from '../../agent/hl7/mllp-framer.js';
import { Hl7Corpus } from '../../simulator/hl7-corpus.js';
import { MllpSendError, MllpSender } from '../../simulator/mllp-sender.js';

interface Received {
  controlId: string;
  payload: Buffer;
  /** 0 for the first connection the server accepted, 1 for the next… */
  connection: number;
}

/** What the test server does with one received message. */
type Reaction = 'AA' | 'AE' | 'AR' | 'drop' | 'ignore';

/** A tiny HL7 receiver: MLLP framing from the agent, ACKs written by hand. */
class TestReceiver {
  readonly received: Received[] = [];
  private readonly sockets = new Set<net.Socket>();
  private connections = 0;
  private unacked = 0;
  /** Most messages ever awaiting our ACK at once on one connection. */
  maxUnacked = 0;
  private constructor(
    private readonly server: net.Server,
    private readonly react: (message: Received) => Reaction,
    private readonly ackDelayMs: number,
  ) {}

  static async start(react: (message: Received) => Reaction = () => 'AA', ackDelayMs = 0, port = 0): Promise<TestReceiver> {
    const server = net.createServer();
    const receiver = new TestReceiver(server, react, ackDelayMs);
    server.on('connection', (socket) => receiver.accept(socket));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const connection = this.connections++;
    const framer = new MllpFramer();
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (const payload of framer.push(chunk)) {
        const msh = payload.toString('latin1').split('\r')[0]!.split('|');
        const message = { controlId: msh[9] ?? '', payload, connection };
        this.received.push(message);
        this.unacked++;
        this.maxUnacked = Math.max(this.maxUnacked, this.unacked);
        const reaction = this.react(message);
        if (reaction === 'drop') {
          socket.destroy();
          this.unacked = 0;
        } else if (reaction !== 'ignore') {
          setTimeout(() => {
            this.unacked--;
            if (!socket.destroyed) socket.write(frameMllp(Buffer.from(ack(reaction, message.controlId), 'latin1')));
          }, this.ackDelayMs);
        }
      }
    });
  }
}

function ack(code: string, controlId: string, text = ''): string {
  const segments = [
    `MSH|^~\\&|WARDLINE|WARDLINE-AGENT|HIS|WARDLINE-DEMO-HOSPITAL|20240301083000||ACK^A01^ACK|ACK${controlId}|P|2.5`,
    `MSA|${code}|${controlId}${text ? `|${text}` : ''}`,
  ];
  return segments.join('\r') + '\r';
}

const corpus = new Hl7Corpus({ seed: 'mllp-sender-test' });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(
  react?: (message: Received) => Reaction,
  senderOptions: Partial<ConstructorParameters<typeof MllpSender>[0]> = {},
  ackDelayMs = 0,
): Promise<{ receiver: TestReceiver; sender: MllpSender }> {
  const receiver = await TestReceiver.start(react, ackDelayMs);
  const sender = new MllpSender({ host: '127.0.0.1', port: receiver.port, reconnectDelayMs: 50, ...senderOptions });
  cleanups.push(() => receiver.stop(), () => sender.close());
  return { receiver, sender };
}

describe('MllpSender', () => {
  it('sends a message and resolves with its AA', async () => {
    const { receiver, sender } = await setUp();
    const message = corpus.next();
    const result = await sender.send(message.bytes, message.controlId);
    expect(result).toMatchObject({ code: 'AA', controlId: message.controlId, attempts: 1 });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(result.raw).toContain(`MSA|AA|${message.controlId}`);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.payload.equals(message.bytes)).toBe(true);
    expect(sender.counters).toMatchObject({ sent: 1, retransmitted: 0, connects: 1 });
    expect(sender.counters.acked.AA).toBe(1);
    expect(sender.state).toBe('ready');
  });

  it('retransmits the same bytes on a new connection when the connection drops before the ACK', async () => {
    const { receiver, sender } = await setUp((m) => (m.connection === 0 ? 'drop' : 'AA'));
    const message = corpus.next();
    const result = await sender.send(message.bytes, message.controlId);
    expect(result).toMatchObject({ code: 'AA', controlId: message.controlId, attempts: 2 });
    expect(receiver.received.map((r) => [r.controlId, r.connection])).toEqual([
      [message.controlId, 0],
      [message.controlId, 1],
    ]);
    expect(receiver.received[1]!.payload.equals(receiver.received[0]!.payload)).toBe(true);
    expect(sender.counters).toMatchObject({ sent: 1, retransmitted: 1, drops: 1, connects: 2 });
  });

  it('retransmits after ackTimeoutMs when the receiver never answers', async () => {
    const { receiver, sender } = await setUp((m) => (m.connection === 0 ? 'ignore' : 'AA'), { ackTimeoutMs: 300 });
    const message = corpus.next();
    const result = await sender.send(message.bytes, message.controlId);
    expect(result).toMatchObject({ code: 'AA', attempts: 2 });
    expect(result.latencyMs).toBeGreaterThanOrEqual(290);
    expect(receiver.received.map((r) => r.controlId)).toEqual([message.controlId, message.controlId]);
    expect(sender.counters).toMatchObject({ retransmitted: 1, ackTimeouts: 1 });
  });

  it('resolves AE and AR without retransmitting', async () => {
    const reactions: Reaction[] = ['AE', 'AR', 'AA'];
    const { sender } = await setUp(() => reactions.shift() ?? 'AA');
    const results = [];
    for (let i = 0; i < 3; i++) {
      const message = corpus.next();
      results.push(await sender.send(message.bytes, message.controlId));
    }
    expect(results.map((r) => [r.code, r.attempts])).toEqual([['AE', 1], ['AR', 1], ['AA', 1]]);
    expect(sender.counters.retransmitted).toBe(0);
    expect(sender.counters.acked).toMatchObject({ AA: 1, AE: 1, AR: 1 });
  });

  it('decodes a GB18030 ACK text per its MSH-18', async () => {
    const server = net.createServer((socket) => {
      const framer = new MllpFramer();
      socket.on('data', (chunk) => {
        for (const payload of framer.push(chunk)) {
          const controlId = payload.toString('latin1').split('\r')[0]!.split('|')[9]!;
          const text = `MSH|^~\\&|WARDLINE|AGENT|HIS|H|20240301083000||ACK|A1|P|2.5|||||CHN|GB 18030-2000\r` +
            `MSA|AE|${controlId}\rERR||PID^1^3|101^必填字段缺失^HL70357|E||||PID-3 患者标识为空\r`;
          socket.write(frameMllp(iconv.encode(text, 'gb18030')));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sender = new MllpSender({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())), () => sender.close());
    const message = corpus.next();
    const result = await sender.send(message.bytes, message.controlId);
    expect(result.code).toBe('AE');
    expect(result.text).toBe('PID-3 患者标识为空');
  });

  it('keeps one message on the wire at a time in original mode, in order', async () => {
    const { receiver, sender } = await setUp(undefined, {}, 5);
    const messages = Array.from({ length: 8 }, () => corpus.next());
    const results = await Promise.all(messages.map((m) => sender.send(m.bytes, m.controlId)));
    expect(results.map((r) => r.controlId)).toEqual(messages.map((m) => m.controlId));
    expect(receiver.received.map((r) => r.controlId)).toEqual(messages.map((m) => m.controlId));
    expect(receiver.maxUnacked).toBe(1);
  });

  it('puts several messages on the wire with pipeline > 1 and matches ACKs by MSA-2', async () => {
    const { receiver, sender } = await setUp(undefined, { pipeline: 4 }, 20);
    const messages = Array.from({ length: 12 }, () => corpus.next());
    const results = await Promise.all(messages.map((m) => sender.send(m.bytes, m.controlId)));
    expect(results.map((r) => r.controlId)).toEqual(messages.map((m) => m.controlId));
    expect(receiver.maxUnacked).toBe(4);
  });

  it('rejects after maxAttempts without an ACK', async () => {
    const { receiver, sender } = await setUp(() => 'ignore', { ackTimeoutMs: 100, maxAttempts: 2 });
    const message = corpus.next();
    const error = await sender.send(message.bytes, message.controlId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MllpSendError);
    expect(error).toMatchObject({ controlId: message.controlId, attempts: 2 });
    expect(receiver.received).toHaveLength(2);
    expect(sender.counters.failed).toBe(1);
  });

  it('waits for a receiver that is not listening yet, then delivers', async () => {
    const probe = await TestReceiver.start();
    const port = probe.port;
    await probe.stop();
    const sender = new MllpSender({ host: '127.0.0.1', port, reconnectDelayMs: 50 });
    cleanups.push(() => sender.close());
    const message = corpus.next();
    const pending = sender.send(message.bytes, message.controlId);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sender.counters.connectFailures).toBeGreaterThan(0);
    const receiver = await TestReceiver.start(() => 'AA', 0, port);
    cleanups.push(() => receiver.stop());
    await expect(pending).resolves.toMatchObject({ code: 'AA', attempts: 1 });
  });

  it('rejects what is outstanding on close() and refuses new messages', async () => {
    const { sender } = await setUp(() => 'ignore');
    const message = corpus.next();
    const rejected = expect(sender.send(message.bytes, message.controlId)).rejects.toBeInstanceOf(MllpSendError);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await sender.close();
    await rejected;
    await expect(sender.send(message.bytes, message.controlId)).rejects.toBeInstanceOf(MllpSendError);
    expect(sender.state).toBe('closed');
  });
});
