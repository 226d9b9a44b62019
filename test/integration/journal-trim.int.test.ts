// Journal trimming end to end, with a real relay: while the line is down nothing
// is trimmed however old it gets; once the relay has acknowledged the backlog the
// journal keeps only what the local copy reads (each record's current version),
// every event is in the vendor feed exactly once, the local copy is whole, and
// seqs go on from where they were after a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { freePort } from '../support/free-port.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const SECRET = 'journal-trim-secret-0001';
const VENDOR_KEY = 'journal-trim-vendor-key';
const quiet = pino({ level: 'silent' });

describe('journal trimming with a real relay', () => {
  const dir = makeTempDir('wardline-trim-');
  let grpcPort: number;
  let relay: RelayHandle | undefined;
  let agent: RunningAgent;
  let url: string;
  const agentConfig = join(dir.path, 'agent.yaml');

  const status = async (): Promise<AgentStatus> => (await (await fetch(`${url}/v1/status`)).json()) as AgentStatus;
  const ingest = async (keys: string[]): Promise<number[]> => {
    const response = await fetch(`${url}/v1/ingest/adt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(keys.map((key) => ({ key, ward: '3B' }))),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { seqs: number[] }).seqs;
  };

  beforeAll(async () => {
    grpcPort = await freePort();
    writeFileSync(
      join(dir.path, 'relay.yaml'),
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:${grpcPort}" }
http: { listen: "127.0.0.1:0" }
allowPlaintext: true
hospitals: [{ id: trim-hospital, secret: "${SECRET}" }]
vendors: [{ name: vendor, key: "${VENDOR_KEY}", grants: [{ hospital: trim-hospital, feeds: [clinical] }] }]
`,
    );
    writeFileSync(
      agentConfig,
      `hospital: { id: trim-hospital }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0" }
relays: [{ name: cloud, address: "127.0.0.1:${grpcPort}", secret: "${SECRET}", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
# Windows close after 500 ms: the journal keeps a window's events until the proofs compared it.
replication: { backoff: { initialMs: 100, maxMs: 300 }, proofs: { windowMs: 500ms } }
journal: { retention: 1s, trimIntervalMs: 200ms, trimChunkRows: 100 }
`,
    );
    // The line is down: no relay yet.
    agent = await startAgent(agentConfig, { logger: quiet });
    url = `http://127.0.0.1:${agent.httpPort}`;
  });

  afterAll(async () => {
    await agent?.stop();
    await relay?.stop();
    dir.remove();
  });

  it('trims nothing the relay has not acknowledged, however old', async () => {
    // 50 patients, 5 versions each: 200 rows superseded, 50 current.
    const seqs = await ingest(Array.from({ length: 250 }, (_, i) => `P${i % 50}`));
    expect(seqs).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    // Well past the 1 s retention, several trim passes later.
    await new Promise((r) => setTimeout(r, 1_500));
    const s = await status();
    expect(s.disk).toMatchObject({ journalRows: 250, oldestRetainedSeq: 1, trimmedEventsTotal: 0 });
    expect(s.disk!.lastTrim).toMatchObject({ events: 0, ackedBoundSeq: 0 });
  });

  it('once the relay has the backlog, trims it, and the vendor and the local copy have everything', async () => {
    relay = await startRelay(join(dir.path, 'relay.yaml'), { logger: quiet });
    const relayHttp = `http://127.0.0.1:${relay.httpPort}`;
    const trimmed = await until('journal trimmed', status, (s) => s.disk!.journalRows === 0, { timeoutMs: 20_000 });
    // The 50 current versions stay in the journal: they are the local copy.
    expect(trimmed.disk).toMatchObject({ oldestRetainedSeq: null, trimmedEventsTotal: 200 });
    const feed = await readWholeFeed(relayHttp, 'clinical', VENDOR_KEY);
    expect(feed.map((e) => e.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    for (const [key, seq] of [['P0', 201], ['P37', 238], ['P49', 250]] as const) {
      const response = await fetch(`${url}/v1/records/adt/${key}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ key, seq, body: { key, ward: '3B' } });
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^wardline_agent_journal_trimmed_events_total 200$/m);
    expect(metrics).toMatch(/^wardline_agent_journal_rows 0$/m);
  });

  it('after a restart hands out the next seq, never a trimmed one, and the feed goes on without a gap', async () => {
    await agent.stop();
    agent = await startAgent(agentConfig, { logger: quiet });
    url = `http://127.0.0.1:${agent.httpPort}`;
    expect(await ingest(['AFTER-RESTART'])).toEqual([251]);
    const relayHttp = `http://127.0.0.1:${relay!.httpPort}`;
    const feed = await until('event 251 in the feed', () => readWholeFeed(relayHttp, 'clinical', VENDOR_KEY), (events) => events.length >= 251, { timeoutMs: 20_000 });
    expect(feed.map((e) => e.seq)).toEqual(Array.from({ length: 251 }, (_, i) => i + 1));
    expect(feed[250]!.key).toBe('AFTER-RESTART');
  });
});
