import net from 'node:net';
import iconv from 'iconv-lite';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MllpListener, type MllpListenerOptions } from '../../agent/sources/mllp/index.js';
import { frameMllp, Hl7Message, mergeMapping, MllpFramer } from '../../agent/hl7/index.js';
import { RecordingWriter } from '../support/recording-writer.js';

/** A sender: raw socket in, ACK payloads out in arrival order. */
class Sender {
  private readonly framer = new MllpFramer();
  private readonly acks: Buffer[] = [];
  private readonly waiting: ((ack: Buffer) => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      for (const ack of this.framer.push(chunk)) {
        const waiter = this.waiting.shift();
        if (waiter) waiter(ack);
        else this.acks.push(ack);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(port: number): Promise<Sender> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new Sender(socket)));
      socket.setNoDelay(true);
      socket.once('error', reject);
    });
  }

  send(message: string | Buffer): void {
    this.socket.write(frameMllp(typeof message === 'string' ? Buffer.from(message, 'utf8') : message));
  }

  nextAck(timeoutMs = 3000): Promise<Buffer> {
    const ready = this.acks.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ACK within timeout')), timeoutMs);
      this.waiting.push((ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
  }

  async nextAckMessage(): Promise<Hl7Message> {
    return Hl7Message.parse((await this.nextAck()).toString('utf8'));
  }

  close(): void {
    this.socket.destroy();
  }
}

function adt(controlId: string, patientId = 'P12345', trigger = 'A01'): string {
  return [
    `MSH|^~\\&|HIS|HOSP|WARDLINE|AGENT|20240105083000||ADT^${trigger}^ADT_A01|${controlId}|P|2.5`,
    'EVN|A01|20240105083000',
    `PID|1||${patientId}^^^HOSP^MR||Zhang^San||19900307|M`,
    '',
  ].join('\r');
}

const running: MllpListener[] = [];
const senders: Sender[] = [];

async function listen(overrides: Partial<MllpListenerOptions> = {}): Promise<{ listener: MllpListener; writer: RecordingWriter; port: number }> {
  const writer = new RecordingWriter();
  const listener = new MllpListener({
    name: 'lis-mllp',
    host: '127.0.0.1',
    port: 0,
    writer,
    mapping: mergeMapping([]),
    log: pino({ level: 'silent' }),
    ...overrides,
  });
  running.push(listener);
  const { port } = await listener.start();
  return { listener, writer: (overrides.writer as RecordingWriter | undefined) ?? writer, port };
}

async function connect(port: number): Promise<Sender> {
  const sender = await Sender.connect(port);
  senders.push(sender);
  return sender;
}

afterEach(async () => {
  for (const sender of senders.splice(0)) sender.close();
  await Promise.all(running.splice(0).map((l) => l.stop()));
});

describe('MllpListener', () => {
  it('journals a valid message and answers AA echoing MSH-10', async () => {
    const { listener, writer, port } = await listen();
    const sender = await connect(port);
    sender.send(adt('MSG-1'));
    const ack = await sender.nextAckMessage();

    expect(ack.get('MSA-1')).toBe('AA');
    expect(ack.get('MSA-2')).toBe('MSG-1');
    expect(ack.get('MSH-5')).toBe('HIS');
    expect(ack.getRaw('MSH-9')).toBe('ACK^A01^ACK');
    expect(writer.journal).toHaveLength(1);
    const request = writer.journal[0]!;
    expect(request.source).toBe('lis-mllp');
    expect(request.dedupe).toEqual({ scope: 'HIS|HOSP', id: 'MSG-1', digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(request.events).toHaveLength(1);
    const event = request.events[0]!;
    expect(event).toMatchObject({ stream: 'adt', key: 'P12345', op: 'upsert', contentType: 'hl7v2' });
    expect(event.body.toString('utf8')).toBe(adt('MSG-1'));
    expect(event.headers).toEqual({
      controlId: 'MSG-1',
      messageType: 'ADT^A01',
      sendingApplication: 'HIS',
      sendingFacility: 'HOSP',
      charset: 'UNICODE UTF-8',
      originalCharset: '',
    });
    expect(listener.stats()).toMatchObject({ state: 'listening', connections: 1, received: 1, acknowledged: 1, rejected: 0 });
    expect(listener.stats().lastMessageAt).toBeInstanceOf(Date);
  });

  it('answers a malformed message AE with ERR, then serves the next frame on the same connection', async () => {
    const { listener, writer, port } = await listen();
    const sender = await connect(port);
    sender.send('MSH|^~\\&|HIS|HOSP|||20240105|||BAD-1|P|2.5\rPID|1||X\r'); // no MSH-9
    const ae = await sender.nextAckMessage();
    expect(ae.get('MSA-1')).toBe('AE');
    expect(ae.get('MSA-2')).toBe('BAD-1');
    expect(ae.getRaw('ERR-3')).toBe('101^Required field missing^HL70357');
    expect(ae.getRaw('ERR-2')).toBe('MSH^1^9');
    expect(ae.get('ERR-8')).toMatch(/MSH-9/);

    sender.send('this is not HL7 at all');
    const garbage = await sender.nextAckMessage();
    expect(garbage.get('MSA-1')).toBe('AE');
    expect(garbage.get('MSA-2')).toBe('');
    expect(garbage.get('ERR-3')).toBe('100');

    sender.send(adt('GOOD-1'));
    const aa = await sender.nextAckMessage();
    expect(aa.get('MSA-1')).toBe('AA');
    expect(aa.get('MSA-2')).toBe('GOOD-1');
    expect(writer.journal.map((r) => r.dedupe?.id)).toEqual(['GOOD-1']);
    expect(listener.stats()).toMatchObject({ received: 3, acknowledged: 1, rejected: 2 });
    expect(listener.stats().lastRejection).toMatchObject({ code: 'AE' });
  });

  it('answers AE naming the key path when the message has no key', async () => {
    const { writer, port } = await listen();
    const sender = await connect(port);
    sender.send(adt('NOKEY-1', ''));
    const ack = await sender.nextAckMessage();
    expect(ack.get('MSA-1')).toBe('AE');
    expect(ack.get('ERR-8')).toContain('PID-3.1');
    expect(writer.requests).toHaveLength(0);
  });

  it('answers AR with the reason when admission refuses, journaling nothing', async () => {
    let refusal: string | undefined = 'Disk critically full (98%)';
    const { listener, writer, port } = await listen({ admission: () => refusal });
    const sender = await connect(port);
    sender.send(adt('FULL-1'));
    const ar = await sender.nextAckMessage();
    expect(ar.get('MSA-1')).toBe('AR');
    expect(ar.get('MSA-2')).toBe('FULL-1');
    expect(ar.get('MSA-3')).toBe('Disk critically full (98%)');
    expect(ar.get('ERR-3')).toBe('207');
    expect(writer.requests).toHaveLength(0);
    expect(listener.stats().lastRejection).toMatchObject({ code: 'AR', reason: 'Disk critically full (98%)' });

    refusal = undefined;
    sender.send(adt('FULL-1'));
    expect((await sender.nextAckMessage()).get('MSA-1')).toBe('AA');
  });

  it('answers AR when the store fails, and AA when the resend succeeds', async () => {
    const { writer, port } = await listen();
    writer.failure = new Error('SQLITE_IOERR');
    const sender = await connect(port);
    sender.send(adt('IO-1'));
    const ar = await sender.nextAckMessage();
    expect(ar.get('MSA-1')).toBe('AR');
    expect(ar.get('MSA-2')).toBe('IO-1');
    expect(ar.get('ERR-8')).not.toContain('SQLITE'); // internals stay in the agent's log

    writer.failure = undefined;
    sender.send(adt('IO-1'));
    expect((await sender.nextAckMessage()).get('MSA-1')).toBe('AA');
    expect(writer.journal).toHaveLength(1);
  });

  it('reassembles a message written one byte at a time', async () => {
    const { writer, port } = await listen();
    const sender = await connect(port);
    const bytes = frameMllp(Buffer.from(adt('SLOW-1'), 'utf8'));
    for (const byte of bytes) {
      sender.socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const ack = await sender.nextAckMessage();
    expect(ack.get('MSA-2')).toBe('SLOW-1');
    expect(writer.journal[0]!.events[0]!.body.toString('utf8')).toBe(adt('SLOW-1'));
  });

  it('processes pipelined frames together but answers them in arrival order', async () => {
    const { writer, port } = await listen();
    writer.hold = true;
    const sender = await connect(port);
    sender.socket.write(Buffer.concat(['P-1', 'P-2', 'P-3'].map((id, i) => frameMllp(Buffer.from(adt(id, `PAT${i}`))))));

    // All three reach the store before any commits: they can share one group commit.
    await expect.poll(() => writer.holding).toBe(3);
    expect(writer.requests.map((r) => r.dedupe?.id)).toEqual(['P-1', 'P-2', 'P-3']);
    writer.releaseInReverse();

    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await sender.nextAckMessage()).get('MSA-2'));
    expect(ids).toEqual(['P-1', 'P-2', 'P-3']);
  });

  it('hands a GB18030 message to the store as UTF-8 and answers in GB18030', async () => {
    const text = [
      'MSH|^~\\&|HIS|北京协和医院|WARDLINE|AGENT|20240105083000||ADT^A01^ADT_A01|GB-1|P|2.5|||||CHN|GB 18030-2000',
      'PID|1||P88^^^HOSP^MR||张三丰||19900307|M|||北京市朝阳区建国路1号^^北京市^^100020',
      '',
    ].join('\r');
    const { writer, port } = await listen();
    const sender = await connect(port);
    sender.send(iconv.encode(text, 'gb18030'));
    const ackBytes = await sender.nextAck();

    const event = writer.journal[0]!.events[0]!;
    const stored = event.body.toString('utf8');
    expect(stored).toContain('张三丰');
    expect(stored).toContain('北京市朝阳区');
    // Stored as UTF-8, and MSH-18 says so; the wire's charset is kept in originalCharset.
    expect(stored).toBe(text.replace('|GB 18030-2000', '|UNICODE UTF-8'));
    expect(Hl7Message.parse(stored).charset).toBe('UNICODE UTF-8');
    expect(event.headers).toMatchObject({ charset: 'UNICODE UTF-8', originalCharset: 'GB 18030-2000', sendingFacility: '北京协和医院' });
    expect(writer.journal[0]!.dedupe).toEqual({ scope: 'HIS|北京协和医院', id: 'GB-1', digest: expect.stringMatching(/^[0-9a-f]{64}$/) });

    expect(ackBytes.includes(iconv.encode('北京协和医院', 'gb18030'))).toBe(true);
    const ack = Hl7Message.parse(iconv.decode(ackBytes, 'gb18030'));
    expect(ack.get('MSH-6')).toBe('北京协和医院');
    expect(ack.charset).toBe('GB 18030-2000');
    expect(ack.get('MSA-1')).toBe('AA');
    expect(ack.get('MSA-2')).toBe('GB-1');
  });

  it('takes an undeclared GBK message as GB18030 and answers in it', async () => {
    const text = 'MSH|^~\\&|HIS|協和醫院|||20240105||ADT^A08|GBK-1|P|2.4\rPID|1||P9||張三豐\r';
    const { writer, port } = await listen();
    const sender = await connect(port);
    sender.send(iconv.encode(text, 'gbk'));
    const ackBytes = await sender.nextAck();
    // The stored UTF-8 text declares itself (an empty MSH-18 would mean ASCII); the fallback is named.
    expect(writer.journal[0]!.events[0]!.body.toString('utf8')).toBe(text.replace('|2.4\r', '|2.4||||||UNICODE UTF-8\r'));
    expect(writer.journal[0]!.events[0]!.headers).toMatchObject({ charset: 'UNICODE UTF-8', originalCharset: 'GB 18030-2000' });
    expect(ackBytes.includes(iconv.encode('協和醫院', 'gbk'))).toBe(true);
    expect(Hl7Message.parse(iconv.decode(ackBytes, 'gb18030')).get('MSA-2')).toBe('GBK-1');
  });

  it('answers an undecodable charset AE 103, echoing what it could', async () => {
    const { writer, port } = await listen();
    const sender = await connect(port);
    sender.send('MSH|^~\\&|HIS|HOSP|||20240105||ADT^A01|CS-1|P|2.5|||||CHN|EBCDIC\rPID|1||X\r');
    const ack = await sender.nextAckMessage();
    expect(ack.get('MSA-1')).toBe('AE');
    expect(ack.get('MSA-2')).toBe('CS-1');
    expect(ack.get('ERR-3')).toBe('103');
    expect(ack.get('ERR-8')).toContain('EBCDIC');
    expect(writer.requests).toHaveLength(0);
  });

  it('answers a retransmission AA again without journaling it twice', async () => {
    const { listener, writer, port } = await listen();
    const sender = await connect(port);
    sender.send(adt('DUP-1'));
    expect((await sender.nextAckMessage()).get('MSA-1')).toBe('AA');
    sender.send(adt('DUP-1'));
    const again = await sender.nextAckMessage();
    expect(again.get('MSA-1')).toBe('AA');
    expect(again.get('MSA-2')).toBe('DUP-1');
    expect(writer.requests).toHaveLength(2);
    expect(writer.journal).toHaveLength(1);
    expect(listener.stats()).toMatchObject({ acknowledged: 2, duplicates: 1 });
  });

  it('answers an oversized frame AE and closes only that connection', async () => {
    const { port } = await listen({ maxFrameBytes: 1024 });
    const big = await connect(port);
    const other = await connect(port);
    big.send('MSH|^~\\&|HIS|HOSP|||20240105||ADT^A01|BIG-1|P|2.5\rOBX|1|TX|||' + 'x'.repeat(4096));
    const ae = await big.nextAckMessage();
    expect(ae.get('MSA-1')).toBe('AE');
    expect(ae.get('ERR-8')).toMatch(/1024 bytes/);
    await big.closed;

    other.send(adt('OK-1'));
    expect((await other.nextAckMessage()).get('MSA-1')).toBe('AA');
  });

  it('appends pipelined messages in arrival order even when a large one is parsed in slices', async () => {
    const { writer, port } = await listen();
    const sender = await connect(port);
    const large = adt('ORDER-1').replace('EVN|', `NTE|1||${'x'.repeat(1024 * 1024)}\rEVN|`);
    sender.socket.write(Buffer.concat([large, adt('ORDER-2'), adt('ORDER-3')].map((m) => frameMllp(Buffer.from(m)))));
    for (const id of ['ORDER-1', 'ORDER-2', 'ORDER-3']) expect((await sender.nextAckMessage()).get('MSA-2')).toBe(id);
    expect(writer.requests.map((r) => r.dedupe?.id)).toEqual(['ORDER-1', 'ORDER-2', 'ORDER-3']);
  });

  it('answers a message of more than maxSegments segments AR, echoing MSH-10, and goes on with the next', async () => {
    const { writer, port } = await listen({ maxSegments: 10 });
    const sender = await connect(port);
    sender.send(adt('SEG-1').replace('EVN|', 'NTE|1\r'.repeat(20) + 'EVN|'));
    sender.send(adt('SEG-2'));
    const refused = await sender.nextAckMessage();
    expect(refused.get('MSA-1')).toBe('AR');
    expect(refused.get('MSA-2')).toBe('SEG-1');
    expect(refused.get('ERR-8')).toMatch(/maxSegments \(10\)/);
    expect((await sender.nextAckMessage()).get('MSA-1')).toBe('AA');
    expect(writer.journal.map((r) => r.dedupe?.id)).toEqual(['SEG-2']);
  });

  it('counts a reused control id with other content and lists its sender, clipped, for the alert', async () => {
    const { listener, port } = await listen();
    const sender = await connect(port);
    sender.send(adt('REUSE-1', 'P1'));
    sender.send(adt('REUSE-1', 'P2'));
    await sender.nextAckMessage();
    expect((await sender.nextAckMessage()).get('MSA-1')).toBe('AA');
    expect(listener.stats()).toMatchObject({ controlIdsReused: 1, controlIdReuse: [{ sendingApplication: 'HIS', sendingFacility: 'HOSP', controlId: 'REUSE-1', count: 1, seq: 2 }] });
  });

  it('answers AR to a complete frame that does not fit in maxBufferedBytes, keeps the connection and takes it once room is made', async () => {
    const { writer, port } = await listen({ maxFrameBytes: 1024, maxBufferedBytes: 2048 });
    writer.hold = true;
    const sender = await connect(port);
    const padded = (id: string) => adt(id).replace('EVN|', `NTE|1||${'x'.repeat(700)}\rEVN|`);
    for (const id of ['BUD-1', 'BUD-2', 'BUD-3']) sender.send(padded(id));
    await expect.poll(() => writer.holding).toBe(2);
    writer.releaseInReverse();
    const answers = [await sender.nextAckMessage(), await sender.nextAckMessage(), await sender.nextAckMessage()];
    expect(answers.map((a) => `${a.get('MSA-2')} ${a.get('MSA-1')}`)).toEqual(['BUD-1 AA', 'BUD-2 AA', 'BUD-3 AR']);
    expect(answers[2]!.get('ERR-8')).toMatch(/maxBufferedBytes \(2048 bytes\); resend later/);
    sender.send(padded('BUD-3'));
    expect((await sender.nextAckMessage()).get('MSA-1')).toBe('AA');
  });

  it('refuses a byte budget that cannot hold the largest frame', () => {
    expect(() => new MllpListener({ name: 'lis-mllp', host: '127.0.0.1', port: 0, writer: new RecordingWriter(), mapping: mergeMapping([]), log: pino({ level: 'silent' }), maxBufferedBytes: 1024 })).toThrow(
      /maxBufferedBytes \(1024\): expected at least 4\/3 of maxFrameBytes/,
    );
  });

  it('answers what a sender sent before it half-closed', async () => {
    const { writer, port } = await listen();
    writer.hold = true;
    const sender = await connect(port);
    sender.send(adt('HC-1'));
    await expect.poll(() => writer.holding).toBe(1);
    sender.socket.end();
    writer.releaseInReverse();
    expect((await sender.nextAckMessage()).get('MSA-2')).toBe('HC-1');
    await sender.closed;
  });

  it('stops after answering messages in flight', async () => {
    const { listener, writer, port } = await listen();
    writer.hold = true;
    const sender = await connect(port);
    sender.send(adt('LAST-1'));
    await expect.poll(() => writer.holding).toBe(1);

    const stopped = listener.stop();
    expect(listener.stats().state).toBe('stopped');
    setTimeout(() => writer.releaseInReverse(), 50);
    const ack = await sender.nextAckMessage();
    expect(ack.get('MSA-1')).toBe('AA');
    expect(ack.get('MSA-2')).toBe('LAST-1');
    await stopped;
    await sender.closed;
    expect(listener.stats()).toMatchObject({ state: 'stopped', connections: 0 });
    await expect(Sender.connect(port)).rejects.toThrow();
  });

  it('stops within its timeout when the store never answers', async () => {
    const { listener, writer, port } = await listen({ stopTimeoutMs: 200 });
    writer.hold = true;
    const sender = await connect(port);
    sender.send(adt('STUCK-1'));
    await expect.poll(() => writer.holding).toBe(1);
    const started = Date.now();
    await listener.stop();
    expect(Date.now() - started).toBeLessThan(2500);
    await sender.closed;
  });

  it('refuses a malformed mapping at construction, naming the rule', () => {
    expect(
      () =>
        new MllpListener({
          name: 'x',
          host: '127.0.0.1',
          port: 0,
          writer: new RecordingWriter(),
          mapping: [{ messageType: 'ADT', stream: 'adt', keyPaths: ['PID.3'] }],
          log: pino({ level: 'silent' }),
        }),
    ).toThrow(/rule 1.*PID\.3/);
  });
});
