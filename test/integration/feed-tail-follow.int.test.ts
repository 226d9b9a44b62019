// `wardline feed tail --follow` as a vendor runs it: the built CLI as a child process,
// reading a relay child process that is SIGKILLed and restarted on the same ports
// under it. Every event before and after the restart is printed exactly once, and
// SIGTERM ends it with "resume with --after N" naming the last seq printed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { freePort } from '../support/free-port.js';
import { RelayChild } from '../support/relay-child-process.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { CLI_PATH } from '../support/wardline-process.js';

const SECRET = 'feed-tail-follow-secret-1';
const VENDOR_KEY = 'feed-tail-follow-vendor-key';

/** The tail as a child process, its stdout lines and stderr kept apart. */
class Tail {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI_PATH, 'feed', 'tail', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const pieces = text.split('\n');
      partial = pieces.pop()!;
      this.lines.push(...pieces.filter((l) => l.length > 0));
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }
  kill(signal: NodeJS.Signals): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}

describe('wardline feed tail --follow across a relay SIGKILL and restart', () => {
  const dir = makeTempDir('wardline-tail-');
  let grpcPort: number;
  let httpPort: number;
  let relay: RelayChild;
  let agent: RunningAgent;
  let agentHttp: string;
  const relayConfig = join(dir.path, 'relay.yaml');

  const startRelayChild = async (): Promise<RelayChild> => {
    const child = new RelayChild(relayConfig, join(dir.path, 'relay.log'));
    await until('the relay answering /healthz', () => fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false), (ok) => ok, { timeoutMs: 20_000 });
    return child;
  };

  const ingest = async (keys: string[]): Promise<number[]> => {
    const response = await fetch(`${agentHttp}/v1/ingest/appointments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(keys.map((key) => ({ key, patient: '李四' }))),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { seqs: number[] }).seqs;
  };

  beforeAll(async () => {
    grpcPort = await freePort();
    httpPort = await freePort();
    writeFileSync(
      relayConfig,
      `dataDir: ${join(dir.path, 'relay-data')}
grpc: { listen: "127.0.0.1:${grpcPort}" }
http: { listen: "127.0.0.1:${httpPort}" }
allowPlaintext: true
hospitals: [{ id: tail-hospital, secret: "${SECRET}" }]
vendors: [{ name: vendor, key: "${VENDOR_KEY}", grants: [{ hospital: tail-hospital, feeds: [clinical] }] }]
`,
    );
    relay = await startRelayChild();
    writeFileSync(
      join(dir.path, 'agent.yaml'),
      `hospital: { id: tail-hospital, name: 测试医院 }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0" }
relays: [{ name: cloud, address: "127.0.0.1:${grpcPort}", secret: "${SECRET}", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [appointments] }]
replication: { backoff: { initialMs: 100, maxMs: 500 } }
`,
    );
    agent = await startAgent(join(dir.path, 'agent.yaml'), { logger: pino({ level: 'silent' }) });
    agentHttp = `http://127.0.0.1:${agent.httpPort}`;
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await relay?.kill('SIGKILL');
    dir.remove();
  });

  it('prints every event once across the restart and names the resume cursor on SIGTERM', async () => {
    const before = await ingest(['A-1', 'A-2', 'A-3']);
    const tail = new Tail(['--relay', `127.0.0.1:${grpcPort}`, '--key', VENDOR_KEY, '--feed', 'clinical', '--follow', '--plaintext']);
    await until('three events printed', () => tail.lines.length, (n) => n >= 3, { timeoutMs: 20_000, describe: () => tail.stderr });

    await relay.kill('SIGKILL');
    const during = await ingest(['B-1', 'B-2']);
    relay = await startRelayChild();
    const after = await ingest(['C-1']);
    await until('six events printed', () => tail.lines.length, (n) => n >= 6, { timeoutMs: 30_000, describe: () => `${tail.lines.length} lines; ${tail.stderr}` });
    await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive now

    const events = tail.lines.map((l) => JSON.parse(l) as { seq: number; key: string; hospital: string; feed: string; prevSeq: number });
    expect(events.map((e) => e.key)).toEqual(['A-1', 'A-2', 'A-3', 'B-1', 'B-2', 'C-1']);
    expect(events.map((e) => e.seq)).toEqual([...before, ...during, ...after]);
    expect(events[0]).toMatchObject({ hospital: 'tail-hospital', feed: 'clinical', prevSeq: 0 });
    for (let i = 1; i < events.length; i++) expect(events[i]!.prevSeq).toBe(events[i - 1]!.seq);

    expect(await tail.kill('SIGTERM')).toBe(0);
    expect(tail.stderr).toMatch(new RegExp(`resume with --after ${after[0]}\\n$`));
  }, 90_000);

  it('stops at --limit saying where to resume, and refuses a bad key without retrying', async () => {
    const limited = new Tail(['--relay', `127.0.0.1:${grpcPort}`, '--key', VENDOR_KEY, '--feed', 'clinical', '--plaintext', '--limit', '2']);
    expect(await limited.exited).toBe(0);
    expect(limited.lines).toHaveLength(2);
    const second = (JSON.parse(limited.lines[1]!) as { seq: number }).seq;
    expect(limited.stderr).toMatch(new RegExp(`resume with --after ${second}\\n$`));

    const refused = new Tail(['--relay', `127.0.0.1:${grpcPort}`, '--key', 'not-a-vendor-key', '--feed', 'clinical', '--follow', '--plaintext', '--after', '5']);
    expect(await refused.exited).toBe(1);
    expect(refused.stderr).toMatch(/feed tail failed: UNAUTHENTICATED: .*; resume with --after 5\n$/);
  }, 30_000);

  it('answers bad flags with one clear line and exit 2', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI_PATH, 'feed', 'tail', '--key', VENDOR_KEY, '--feed', 'clinical', '--relay', `127.0.0.1:${grpcPort}`, '--plaintext', ...args], { encoding: 'utf8' });
    const garbage = run('--after-time', 'garbage');
    expect(garbage.status).toBe(2);
    expect(garbage.stderr).toBe('wardline feed tail: --after-time: expected an ISO 8601 time such as 2024-01-05T08:30:00Z, got "garbage"\n');
    const both = run('--after', '3', '--after-time', '2024-01-05T08:30:00Z');
    expect(both.status).toBe(2);
    expect(both.stderr).toBe('wardline feed tail: --after and --after-time name the start twice; give one of them\n');
    const commitAlone = run('--commit');
    expect(commitAlone.status).toBe(2);
    expect(commitAlone.stderr.trim().split('\n')).toHaveLength(1);
    expect(run('--after', '-1').status).toBe(2);
    expect(run('--format', 'xml').status).toBe(2);
  });
});
