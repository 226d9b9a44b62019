// The InboundSink contract against the MLLP sink and a real HIS on a socket: a
// net server that parses each message with the agent's own HL7 parser,
// deduplicates by MSH-10 (a repeat is answered AA again, not applied twice), and
// answers per a script: SRR^S01 AA with the filler appointment id, AR with a
// reason, AE, no answer, or a dropped connection.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSink, MllpSinkConfigSchema, type InboundSink, type SinkLogger } from '../../agent/downlink/sinks/index.js';
import { frameMllp, Hl7Message, MllpFramer } from '../../agent/hl7/index.js';
import { freePort } from '../support/free-port.js';
import { delivery, describeInboundSinkContract, type InboundSinkHarness, type PeerAnswer } from './inbound-sink.contract.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** An HIS as MLLP filler, scripted per MSH-10. */
class ScriptedHis {
  readonly applied = new Map<string, number>();
  readonly received: Hl7Message[] = [];
  readonly scripts = new Map<string, PeerAnswer>();
  /** Ids answered first with another message's MSA-2, then (late) with their own AA. */
  readonly outOfStep = new Set<string>();
  /** Messages taken but not yet answered, across connections; and the most at once per connection. */
  maxInFlightPerConnection = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server) {}

  static async start(): Promise<ScriptedHis> {
    let his: ScriptedHis;
    const server = net.createServer((socket) => his.serve(socket));
    his = new ScriptedHis(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return his;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const framer = new MllpFramer();
    let unanswered = 0;
    socket.on('data', (chunk) => {
      for (const payload of framer.push(chunk)) {
        unanswered++;
        this.maxInFlightPerConnection = Math.max(this.maxInFlightPerConnection, unanswered);
        const message = Hl7Message.parse(payload.toString('utf8'));
        this.received.push(message);
        const id = message.controlId;
        const answer = (text: string): void => {
          // Answer a little later, so a second message sent on this connection before the answer would show.
          setTimeout(() => {
            unanswered--;
            socket.write(frameMllp(Buffer.from(text)));
          }, 5);
        };
        if (this.outOfStep.has(id)) {
          this.outOfStep.delete(id);
          this.applied.set(id, 1);
          socket.write(frameMllp(Buffer.from(ack(message, 'AA').replace(`MSA|AA|${id}`, 'MSA|AA|ibzzzzzzzzzzzzzzzzzz'))));
          answer(ack(message, 'AA'));
          continue;
        }
        if (this.applied.has(id)) {
          answer(ack(message, 'AA'));
          continue;
        }
        const script = this.scripts.get(id) ?? { kind: 'accept' };
        switch (script.kind) {
          case 'accept':
            this.applied.set(id, 1);
            answer(srr(message, 'AA', '', script.reference));
            break;
          case 'refuse':
            answer(srr(message, 'AR', script.reason));
            break;
          case 'error':
            answer(ack(message, 'AE', 'database busy, try again', true));
            break;
          case 'hang':
            break;
          case 'close':
            socket.destroy();
            break;
        }
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function ack(message: Hl7Message, code: string, text = '', withErr = false): string {
  const msa = `MSA|${code}|${message.controlId}${text === '' || withErr ? '' : `|${text}`}`;
  const err = withErr ? `\rERR||ARQ^1|207^Application internal error^HL70357|E||||${text}` : '';
  return `MSH|^~\\&|HIS|ZJ|WARDLINE|h-zj-002|20261203093001||ACK^S01^ACK|A${Date.now()}|P|2.5\r${msa}${err}\r`;
}

function srr(message: Hl7Message, code: string, text: string, reference?: string): string {
  const sch = reference === undefined ? '' : `SCH|${message.get('ARQ-1')}^WARDLINE|${reference}^HIS\r`;
  return `MSH|^~\\&|HIS|ZJ|WARDLINE|h-zj-002|20261203093001||SRR^S01^SRR_S01|S${Date.now()}|P|2.5\rMSA|${code}|${message.controlId}${text === '' ? '' : `|${text}`}\r${sch}`;
}

function mllpSink(port: number, extra: Record<string, unknown> = {}, log: SinkLogger = silent): InboundSink {
  const config = MllpSinkConfigSchema.parse({
    kind: 'mllp',
    address: `127.0.0.1:${port}`,
    receivingApplication: 'HIS',
    message: 'SRM^S01',
    mapping: {
      'ARQ-1.1': '$.booking.id',
      'ARQ-11.1': '$.booking.start',
      'PID-3.1': '$.patient.id',
      'PID-5.1': { path: '$.patient.family', optional: true },
      'AIS-3.1': '$.booking.service',
    },
    ...extra,
  });
  return createSink(config, { hospitalId: 'h-zj-002', log });
}

let his: ScriptedHis | undefined;

describeInboundSinkContract('MLLP to a scripted HIS', async (): Promise<InboundSinkHarness> => {
  his = await ScriptedHis.start();
  const peer = his;
  return {
    decidesLater: false,
    answers: new Set(['accept', 'refuse', 'error', 'hang', 'close']),
    async sink(options) {
      return mllpSink(peer.port, options?.answerTimeoutMs === undefined ? {} : { ackTimeoutMs: options.answerTimeoutMs });
    },
    async sinkToNowhere() {
      return mllpSink(await freePort());
    },
    async answer(id, answer) {
      peer.scripts.set(id, answer);
    },
    async applied(id) {
      return peer.applied.get(id) ?? 0;
    },
    unmappable: { contentType: 'json', body: Buffer.from(JSON.stringify({ booking: { id: 'B', start: '2026', service: 'S' }, patient: {} })), reason: /^PID-3\.1: \$\.patient\.id is missing/ },
    async close() {
      await peer.close();
    },
  };
});

describe('MLLP sink on the wire', () => {
  let peer: ScriptedHis;
  beforeAll(async () => {
    peer = await ScriptedHis.start();
  });
  afterAll(async () => {
    await peer.close();
  });

  it('sends SRM^S01 the HIS parses: MSH-10 the inbound id, the mapped fields in place', async () => {
    const sink = mllpSink(peer.port);
    try {
      const d = delivery();
      expect(await sink.deliver(d)).toMatchObject({ kind: 'accepted', code: 'AA' });
      const message = peer.received.find((m) => m.controlId === d.id)!;
      expect(message.segmentNames).toEqual(['MSH', 'ARQ', 'PID', 'AIS']);
      expect(message.get('MSH-9')).toBe('SRM');
      expect(message.get('MSH-4')).toBe('h-zj-002');
      expect(message.get('MSH-18')).toBe('UNICODE UTF-8');
      expect(message.get('ARQ-1')).toBe('B-1001');
      expect(message.get('PID-3')).toBe('P-1001');
      expect(message.get('PID-5')).toBe('张');
    } finally {
      await sink.close();
    }
  });

  it('keeps one message in flight per connection, with up to `connections` at once', async () => {
    peer.maxInFlightPerConnection = 0;
    const sink = mllpSink(peer.port, { connections: 3 });
    try {
      const outcomes = await Promise.all(Array.from({ length: 15 }, () => sink.deliver(delivery())));
      expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true);
      expect(peer.maxInFlightPerConnection).toBe(1);
    } finally {
      await sink.close();
    }
  });

  it('passes an hl7v2 body through with MSH-10 replaced, so the HIS deduplicates on the inbound id', async () => {
    const sink = mllpSink(peer.port);
    try {
      const d = delivery({ contentType: 'hl7v2', body: Buffer.from('MSH|^~\\&|APP|CLINIC|HIS|ZJ|20261203||ADT^A04^ADT_A01|VENDOR-1|P|2.5\rPID|1||P-7\r') });
      expect(await sink.deliver(d)).toMatchObject({ kind: 'accepted' });
      expect(await sink.deliver({ ...d, attempt: 2 })).toMatchObject({ kind: 'accepted' });
      const seen = peer.received.filter((m) => m.controlId === d.id);
      expect(seen).toHaveLength(2);
      expect(seen[0]!.get('MSH-3')).toBe('APP');
      expect(peer.applied.get(d.id)).toBe(1);
    } finally {
      await sink.close();
    }
  });

  it('an answer to another message is retryable, and its late own answer is never read as the next message\'s', async () => {
    const sink = mllpSink(peer.port, { connections: 1 });
    try {
      const first = delivery();
      peer.outOfStep.add(first.id);
      expect(await sink.deliver(first)).toMatchObject({ kind: 'retryable', sinkDown: false, reason: `the HIS answered message ibzzzzzzzzzzzzzzzzzz, not ${first.id}` });
      const next = delivery();
      peer.scripts.set(next.id, { kind: 'refuse', reason: 'slot already taken' });
      expect(await sink.deliver(next)).toEqual({ kind: 'refused', code: 'AR', reason: 'slot already taken' });
    } finally {
      await sink.close();
    }
  });

  it('logs connections and their loss without the key or the body', async () => {
    const lines: string[] = [];
    const record = (obj: object, msg?: string): void => void lines.push(JSON.stringify({ ...obj, msg }));
    const sink = mllpSink(peer.port, { connections: 1 }, { debug: record, info: record, warn: record, error: record });
    try {
      const dropped = delivery();
      peer.scripts.set(dropped.id, { kind: 'close' });
      expect(await sink.deliver(dropped)).toMatchObject({ sinkDown: true });
      expect(await sink.deliver(delivery())).toMatchObject({ kind: 'accepted' });
      expect(lines.some((line) => line.includes('connection to the HIS lost'))).toBe(true);
      expect(lines.some((line) => line.includes('connected to the HIS'))).toBe(true);
      for (const line of lines) for (const secret of ['P-1001', 'B-1001', '张']) expect(line).not.toContain(secret);
    } finally {
      await sink.close();
    }
  });

  it('close() ends deliveries waiting for an answer or for a connection as sinkDown', async () => {
    const sink = mllpSink(peer.port, { connections: 1 });
    const d = delivery();
    peer.scripts.set(d.id, { kind: 'hang' });
    const pending = sink.deliver(d);
    const queued = sink.deliver(delivery());
    await new Promise((resolve) => setTimeout(resolve, 100));
    await sink.close();
    expect(await pending).toMatchObject({ kind: 'retryable', sinkDown: true });
    expect(await queued).toMatchObject({ kind: 'retryable', code: 'closed', sinkDown: true });
  });
});
