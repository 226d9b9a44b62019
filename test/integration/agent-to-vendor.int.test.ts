// The whole data path in one process pair: a real relay and a real agent (real
// SQLite files, real gRPC and MLLP sockets on 127.0.0.1:0), fed as a hospital
// would, read as a vendor would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import pino from 'pino';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { frameMllp, MllpFramer } from '../../agent/hl7/index.js';
import { startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';

const SECRET = 'agent-to-vendor-secret-01';
const VENDOR_KEY = 'agent-to-vendor-vendor-key';
const quiet = pino({ level: 'silent' });

/** A minimal MLLP peer that sends raw bytes and reads ACKs in order, on one connection. */
class RawMllpConnection {
  private readonly framer = new MllpFramer();
  private readonly acks: Buffer[] = [];
  private waiting: (() => void) | undefined;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.acks.push(...this.framer.push(chunk));
      this.waiting?.();
    });
  }
  static open(port: number): Promise<RawMllpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawMllpConnection(socket)));
      socket.once('error', reject);
    });
  }
  async exchange(message: Buffer, decodeAs = 'utf8'): Promise<string> {
    this.socket.write(frameMllp(message));
    while (this.acks.length === 0) await new Promise<void>((r) => (this.waiting = r));
    return iconv.decode(this.acks.shift()!, decodeAs);
  }
  close(): void {
    this.socket.end();
  }
}

const hl7 = (segments: string[]): string => segments.join('\r') + '\r';

describe('agent to vendor feed', () => {
  const dir = makeTempDir('wardline-e2e-');
  let relay: RelayHandle;
  let agent: RunningAgent;
  let relayHttp: string;
  let agentHttp: string;

  const writeAgentConfig = (name: string, secret: string): string => {
    const file = join(dir.path, `${name}.yaml`);
    writeFileSync(
      file,
      `hospital: { id: e2e-hospital, name: 测试医院 }
dataDir: ./${name}-data
http: { listen: "127.0.0.1:0" }
sources: [{ kind: mllp, name: lis, listen: "127.0.0.1:0" }]
relays: [{ name: cloud, address: "127.0.0.1:${relay.grpcPort}", secret: "${secret}", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt, results, appointments] }]
replication: { backoff: { initialMs: 100, maxMs: 500 } }
`,
    );
    return file;
  };

  beforeAll(async () => {
    writeFileSync(
      join(dir.path, 'relay.yaml'),
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
allowPlaintext: true
hospitals: [{ id: e2e-hospital, secret: "${SECRET}" }]
vendors: [{ name: vendor, key: "${VENDOR_KEY}", grants: [{ hospital: e2e-hospital, feeds: [clinical] }] }]
`,
    );
    relay = await startRelay(join(dir.path, 'relay.yaml'), { logger: quiet });
    relayHttp = `http://127.0.0.1:${relay.httpPort}`;
    agent = await startAgent(writeAgentConfig('agent', SECRET), { logger: quiet });
    agentHttp = `http://127.0.0.1:${agent.httpPort}`;
  });

  afterAll(async () => {
    await agent?.stop();
    await relay?.stop();
    dir.remove();
  });

  const waitForFeed = async (predicate: (events: Awaited<ReturnType<typeof readWholeFeed>>) => boolean) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const events = await readWholeFeed(relayHttp, 'clinical', VENDOR_KEY);
      if (predicate(events) || Date.now() > deadline) return events;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('answers a malformed message with AE and an ERR segment, then serves a valid one on the same connection', async () => {
    const connection = await RawMllpConnection.open(agent.mllpPorts.get('lis')!);
    const malformed = await connection.exchange(Buffer.from('PID|1||P1\rMSH|^~\\&|HIS|H|WL|WL|20240101||ADT^A01|BROKEN1|P|2.5\r'));
    expect(malformed).toMatch(/\rMSA\|AE\|/);
    expect(malformed).toMatch(/\rERR\|/);
    const valid = await connection.exchange(
      Buffer.from(hl7(['MSH|^~\\&|HIS|H|WL|WL|20240101120000||ADT^A01|E2E-1|P|2.5', 'PID|1||P-E2E-1^^^H^MR||Wang^Fang'])),
    );
    expect(valid).toMatch(/\rMSA\|AA\|E2E-1/);
    connection.close();
    const feed = await waitForFeed((events) => events.some((e) => e.headers.controlId === 'E2E-1'));
    expect(feed.filter((e) => e.headers.controlId === 'E2E-1')).toHaveLength(1);
    expect(feed.some((e) => e.headers.controlId === 'BROKEN1')).toBe(false);
  });

  it('stores and serves a GB18030 message as the right characters, in the local copy and the vendor feed', async () => {
    const text = hl7([
      'MSH|^~\\&|LIS|人民医院|WL|WL|20240101120000||ADT^A08|E2E-GB-1|P|2.5|||||CHN|GB 18030-2000',
      'PID|1||P-GB-1^^^H^MR||张^三丰||19800101|M|||北京市朝阳区建国路88号^^北京^^100022||13812345678',
    ]);
    const connection = await RawMllpConnection.open(agent.mllpPorts.get('lis')!);
    const ack = await connection.exchange(iconv.encode(text, 'gb18030'), 'gb18030');
    connection.close();
    expect(ack).toMatch(/\rMSA\|AA\|E2E-GB-1/);

    const record = (await (await fetch(`${agentHttp}/v1/records/adt/P-GB-1`)).json()) as { body: string; headers: Record<string, string> };
    // Stored as UTF-8 and declared so: MSH-18 is rewritten, the wire's charset kept in a header.
    const stored = text.replace('|GB 18030-2000', '|UNICODE UTF-8');
    expect(record.body).toBe(stored);
    expect(record.body).toContain('张^三丰');
    const feed = await waitForFeed((events) => events.some((e) => e.headers.controlId === 'E2E-GB-1'));
    const event = feed.find((e) => e.headers.controlId === 'E2E-GB-1')!;
    expect(event.body).toBe(stored);
    expect(event.headers).toMatchObject({ charset: 'UNICODE UTF-8', originalCharset: 'GB 18030-2000' });
    expect(event.body).toContain('北京市朝阳区建国路88号');
  });

  it('takes JSON rows from local applications, answers with their seqs after the commit, and keeps unfed streams local', async () => {
    const response = await fetch(`${agentHttp}/v1/ingest/appointments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ key: 'APT-1', patient: '李四', at: '2026-11-22T09:00' }, { key: 'APT-2', patient: '王五' }]),
    });
    expect(response.status).toBe(200);
    const { seqs } = (await response.json()) as { seqs: number[] };
    expect(seqs).toHaveLength(2);
    expect(seqs[1]).toBe(seqs[0]! + 1);

    const local = await fetch(`${agentHttp}/v1/ingest/his.patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'LOCAL-1', name: '赵六', residentId: '11010519491231002X' }),
    });
    expect(local.status).toBe(200);
    expect(((await (await fetch(`${agentHttp}/v1/records/his.patient/LOCAL-1`)).json()) as { body: { name: string } }).body.name).toBe('赵六');

    const feed = await waitForFeed((events) => events.some((e) => e.key === 'APT-2'));
    expect(feed.find((e) => e.key === 'APT-1')?.body).toEqual({ key: 'APT-1', patient: '李四', at: '2026-11-22T09:00' });
    // his.patient is in no feed: it never left the hospital.
    await new Promise((r) => setTimeout(r, 1500));
    const after = await readWholeFeed(relayHttp, 'clinical', VENDOR_KEY);
    expect(after.some((e) => e.stream === 'his.patient' || e.key === 'LOCAL-1')).toBe(false);
  });

  it('refuses bad ingest input with a message naming what was wrong, and loses nothing else', async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${agentHttp}/v1/ingest/appointments`, { method: 'POST', headers: { 'content-type': type }, body });
    const noKey = await post(JSON.stringify([{ key: 'OK-1' }, { patient: 'no key here' }]));
    expect(noKey.status).toBe(400);
    expect(((await noKey.json()) as { error: { message: string } }).error.message).toBe('row 1 has no "key" (expected a non-empty string or a number)');
    const notJson = await post('{"key": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.text()).toMatch(/body is not valid JSON/);
    expect((await post('key=1', 'application/x-www-form-urlencoded')).status).toBe(415);
    // The whole request was refused: its valid row was not half-ingested.
    expect((await fetch(`${agentHttp}/v1/records/appointments/OK-1`)).status).toBe(404);
  });

  it('refuses an agent with a wrong secret with a clear error, and keeps it retrying', async () => {
    const impostor = await startAgent(writeAgentConfig('impostor', 'not-the-right-secret'), { logger: quiet });
    try {
      const deadline = Date.now() + 10_000;
      let link = impostor.status().links[0]!;
      while (!link.lastError && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        link = impostor.status().links[0]!;
      }
      expect(link.state).not.toBe('streaming');
      expect(link.lastError).toMatch(/secret|credential|authenticat/i);
      expect(link.lastError).toMatch(/e2e-hospital/);
    } finally {
      await impostor.stop();
    }
  });

  it('refuses a wrong vendor key with a clear error', async () => {
    const response = await fetch(`${relayHttp}/v1/feeds/clinical/events?after=0`, { headers: { authorization: 'Bearer wrong-key' } });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.message).toMatch(/key/i);
  });

  it('reports the link as streaming with the feed caught up', async () => {
    const status = (await (await fetch(`${agentHttp}/v1/status`)).json()) as {
      links: { state: string }[];
      feeds: { ackedSeq: number; backlog: { events: number } }[];
      journal: { headSeq: number };
    };
    expect(status.links[0]!.state).toBe('streaming');
    const metrics = await (await fetch(`${agentHttp}/metrics`)).text();
    expect(metrics).toMatch(/^wardline_agent_link_up\{relay="cloud"\} 1$/m);
    expect(metrics).toMatch(/^wardline_agent_source_acknowledged_total\{source="lis"\} \d+$/m);
  });
});
