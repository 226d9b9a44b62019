// A GB18030 message from a hospital sender reaches a vendor's MSH-18-honouring engine
// with the right characters: sent by Debian's mllp_send (python3-hl7) as raw bytes to a
// real agent, replicated to a real relay, read from the relay's HTTP feed, its body's
// UTF-8 bytes forwarded over MLLP to a strict receiver in Python
// (test/support/strict-hl7-receiver.py). The negative control — the old stored form,
// UTF-8 bytes still declared GB 18030-2000 — must decode wrongly there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import iconv from 'iconv-lite';
import pino from 'pino';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { frameMllp, MllpFramer } from '../../agent/hl7/index.js';
import { startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';

const SECRET = 'charset-forward-secret-01';
const VENDOR_KEY = 'charset-forward-vendor-key';
const MLLP_SEND = '/usr/bin/mllp_send';
const RECEIVER = join(import.meta.dirname, '..', 'support', 'strict-hl7-receiver.py');
const quiet = pino({ level: 'silent' });

interface Received { controlId?: string; charset?: string; codec?: string; pid5?: string | null; error?: string }

/** The strict receiver as a child process: its port and the lines it prints, in order. */
class StrictReceiver {
  private readonly lines: Received[] = [];
  private waiting: (() => void) | undefined;
  private constructor(private readonly child: ChildProcess, readonly port: number) {}
  static async start(): Promise<StrictReceiver> {
    const child = spawn('python3', [RECEIVER, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const rl = createInterface({ input: child.stdout! });
    const queue: string[] = [];
    let wake: (() => void) | undefined;
    rl.on('line', (line) => (queue.push(line), wake?.()));
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    const receiver = new StrictReceiver(child, (JSON.parse(queue.shift()!) as { listening: number }).listening);
    rl.removeAllListeners('line');
    rl.on('line', (line) => (receiver.lines.push(JSON.parse(line) as Received), receiver.waiting?.()));
    return receiver;
  }
  async next(): Promise<Received> {
    while (this.lines.length === 0) await new Promise<void>((r) => (this.waiting = r));
    return this.lines.shift()!;
  }
  stop(): void {
    this.child.kill('SIGTERM');
  }
}

/** Forwards frames over one MLLP connection, waiting for each ACK, as a vendor's forwarder would. */
async function forward(port: number, frames: Buffer[]): Promise<void> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const framer = new MllpFramer();
  const acks: Buffer[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => (acks.push(...framer.push(chunk)), wake?.()));
  for (const frame of frames) {
    socket.write(frameMllp(frame));
    while (acks.length === 0) await new Promise<void>((r) => (wake = r));
    acks.shift();
  }
  socket.end();
}

const hl7 = (segments: string[]): string => segments.join('\r') + '\r';

describe('a GB18030 message forwarded by a vendor to a strict MSH-18 receiver', () => {
  const dir = makeTempDir('wardline-charset-');
  let relay: RelayHandle;
  let agent: RunningAgent;
  let receiver: StrictReceiver;

  beforeAll(async () => {
    writeFileSync(
      join(dir.path, 'relay.yaml'),
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
allowPlaintext: true
hospitals: [{ id: charset-hospital, secret: "${SECRET}" }]
vendors: [{ name: vendor, key: "${VENDOR_KEY}", grants: [{ hospital: charset-hospital, feeds: [clinical] }] }]
`,
    );
    relay = await startRelay(join(dir.path, 'relay.yaml'), { logger: quiet });
    writeFileSync(
      join(dir.path, 'agent.yaml'),
      `hospital: { id: charset-hospital, name: 测试医院 }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0" }
sources: [{ kind: mllp, name: lis, listen: "127.0.0.1:0" }]
relays: [{ name: cloud, address: "127.0.0.1:${relay.grpcPort}", secret: "${SECRET}", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
replication: { backoff: { initialMs: 100, maxMs: 500 } }
`,
    );
    agent = await startAgent(join(dir.path, 'agent.yaml'), { logger: quiet });
    receiver = await StrictReceiver.start();
  });

  afterAll(async () => {
    receiver?.stop();
    await agent?.stop();
    await relay?.stop();
    dir.remove();
  });

  it('decodes the right Chinese characters from the stored form, and wrongly from the old form', async () => {
    const text = hl7([
      'MSH|^~\\&|LIS|人民医院|WL|WL|20240101120000||ADT^A01|CS-GB-1|P|2.5|||||CHN|GB 18030-2000',
      'PID|1||P-CS-1^^^H^MR||欧阳^娜娜||19800101|F',
    ]);
    const wire = iconv.encode(text, 'gb18030');
    const mllpPort = agent.mllpPorts.get('lis')!;
    if (existsSync(MLLP_SEND)) {
      // mllp_send --file reads bytes and sends each 0x0B…0x1C frame's payload unchanged.
      const file = join(dir.path, 'gb18030.hl7');
      writeFileSync(file, Buffer.concat([Buffer.from([0x0b]), wire, Buffer.from([0x1c, 0x0d])]));
      await promisify(execFile)(MLLP_SEND, ['--file', file, '--port', String(mllpPort), '-q', '127.0.0.1'], { timeout: 10_000 });
    } else {
      await forward(mllpPort, [wire]);
    }

    const deadline = Date.now() + 15_000;
    let event;
    while ((event = (await readWholeFeed(`http://127.0.0.1:${relay.httpPort}`, 'clinical', VENDOR_KEY)).find((e) => e.headers.controlId === 'CS-GB-1')) === undefined) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(event.headers).toMatchObject({ charset: 'UNICODE UTF-8', originalCharset: 'GB 18030-2000' });
    const body = event.body as string;

    const oldForm = body.replace('|UNICODE UTF-8', '|GB 18030-2000').replace('CS-GB-1', 'CS-OLD-1');
    await forward(receiver.port, [Buffer.from(body, 'utf8'), Buffer.from(oldForm, 'utf8'), wire]);

    expect(await receiver.next()).toEqual({ controlId: 'CS-GB-1', charset: 'UNICODE UTF-8', codec: 'utf-8', pid5: '欧阳^娜娜' });
    // Negative control: UTF-8 bytes declared GB 18030-2000 are refused or garbled, never right.
    const old = await receiver.next();
    expect(old.pid5 === '欧阳^娜娜').toBe(false);
    expect(old.error ?? old.pid5).toEqual(expect.any(String));
    // And the receiver itself reads real GB18030 right (it is not simply UTF-8-only).
    expect(await receiver.next()).toMatchObject({ controlId: 'CS-GB-1', codec: 'gb18030', pid5: '欧阳^娜娜' });
  });
});
