// Replicate streams that never say Hello: 5 000 of them from one address, on a
// relay (a child process, the built CLI) with its default settings. The relay
// must refuse those past the per-address cap at once (RESOURCE_EXHAUSTED,
// WL_TOO_MANY_UNAUTHENTICATED), close the rest when the Hello deadline passes
// (DEADLINE_EXCEEDED, WL_HELLO_TIMEOUT), and keep serving an agent that did
// say Hello throughout.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReplicationService, type AgentMessage, type RelayMessage } from '../../protocol/index.js';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER, ERROR_CODE_TRAILER, RelayErrorCode } from '../../cloud-relay/index.js';
import { AgentStream, makeBatch } from '../integration/relay-harness.js';
import { type FloodEnd, type FloodReport } from '../support/relay-ingest-flood.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_FEED, PAIR_SECRET, WardlinePair } from '../support/wardline-pair.js';
import { CLI_PATH } from '../support/wardline-process.js';

const STREAMS = 5_000;
/** Past the deadline, what closing the last stream may take on a loaded 2-core machine (measured: up to 7 s at load 16). */
const SLACK_MS = 20_000;

/** The flood runs in its own process (the built test/support/relay-ingest-flood.js), so its client work does not slow this one's measurements. */
function runFlood(address: string, count: number, maxMs: number): Promise<FloodReport> {
  const script = join(dirname(CLI_PATH), '../test/support/relay-ingest-flood.js');
  const child = spawn(process.execPath, [script, address, String(count), String(maxMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`flood exited with ${code}`);
        resolve(JSON.parse(out) as FloodReport);
      } catch (error) {
        reject(error as Error);
      }
    }),
  );
}

describe('relay ingest: streams that never say Hello', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let pair: WardlinePair;
  let client: grpc.Client;

  beforeEach(async () => {
    dir = makeTempDir('wardline-hello-');
    pair = await WardlinePair.create(dir.path, { hospital: 'h1' });
    await pair.startRelay();
    const Client = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');
    client = new Client(`127.0.0.1:${pair.ports.relayGrpc}`, grpc.credentials.createInsecure());
  });
  afterEach(async () => {
    client.close();
    await pair.stop();
    dir.remove();
  });

  const replicate = () => (client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate();

  async function connectAgent(): Promise<AgentStream> {
    const agent = new AgentStream(replicate());
    agent.hello('h1', [PAIR_FEED], { secret: PAIR_SECRET });
    expect((await agent.next(10_000)).body).toBe('welcome');
    return agent;
  }

  it(`closes ${STREAMS} silent streams from one address: past the cap at once, the rest at the Hello deadline; an agent past Hello is served throughout`, async () => {
    const agent = await connectAgent();
    const started = performance.now();
    const report = runFlood(`127.0.0.1:${pair.ports.relayGrpc}`, STREAMS, DEFAULT_HELLO_TIMEOUT_MS + SLACK_MS);
    let flooding = true;
    void report.finally(() => (flooding = false));

    // The agent that said Hello keeps getting its batches acked while the flood is on.
    const ackMs: number[] = [];
    for (let seq = 1; flooding || seq < 3; seq++) {
      const sentAt = performance.now();
      agent.sendBatch(makeBatch(PAIR_FEED, seq, seq));
      expect((await agent.next(10_000)).body).toBe('ack');
      ackMs.push(performance.now() - sentAt);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { ended, openedMs } = await report;
    const refused = ended.filter((e) => e.code === grpc.status.RESOURCE_EXHAUSTED);
    const timedOut = ended.filter((e) => e.code === grpc.status.DEADLINE_EXCEEDED);
    const span = (list: FloodEnd[]) => (list.length ? `${Math.min(...list.map((e) => e.atMs)).toFixed(0)}-${Math.max(...list.map((e) => e.atMs)).toFixed(0)} ms` : 'none');
    console.info(
      `${STREAMS} silent streams (opened in ${openedMs.toFixed(0)} ms): ${STREAMS - ended.length} still open after ${(performance.now() - started).toFixed(0)} ms; ` +
        `${refused.length} refused (${span(refused)}), ${timedOut.length} timed out (${span(timedOut)}); ` +
        `the agent's acks: max ${Math.max(...ackMs).toFixed(1)} ms over ${ackMs.length}`,
    );

    expect(ended.length).toBe(STREAMS);
    expect(timedOut.length).toBe(DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER);
    expect(timedOut.every((e) => e.wardline === RelayErrorCode.HELLO_TIMEOUT && e.atMs >= DEFAULT_HELLO_TIMEOUT_MS - 100)).toBe(true);
    expect(refused.length).toBe(STREAMS - DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER);
    expect(refused.every((e) => e.wardline === RelayErrorCode.TOO_MANY_UNAUTHENTICATED)).toBe(true);
    // Every batch of the agent was acked (within next()'s 10 s) while the flood was on; the latencies are printed above.
    expect(ackMs.length).toBeGreaterThanOrEqual(3);
    // One warning for the refused episode, not one per stream.
    const log = readFileSync(join(dir.path, 'relay.log'), 'utf8');
    expect(log.match(/replication streams refused/g)).toHaveLength(1);

    // The address's slots are free again: a new stream that says Hello is welcomed.
    (await connectAgent()).end();
    agent.end();
  }, 90_000);

  it('closes a stream that opens and sends no Hello, and says why', async () => {
    const stream = new AgentStream(replicate());
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(status.details).toBe(`${RelayErrorCode.HELLO_TIMEOUT}: no valid Hello within ${DEFAULT_HELLO_TIMEOUT_MS} ms of opening the stream; the first message on a stream must be Hello`);
  }, 30_000);
});
