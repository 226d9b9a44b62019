// The agent against a relay that breaks the protocol. The relay here is a
// scripted fake (a real grpc-js server speaking wardline.v1.Replication, no relay
// code), because the real relay cannot be made to misbehave; the agent is the
// real one (startAgent, real SQLite in a temp dir, real gRPC). On its first
// stream the fake misbehaves one way; on every later stream it is a correct
// relay (Welcome with its high-water mark, acks in order). What an operator
// would notice: the agent drops the bad stream, says why in its status,
// reconnects, and everything journaled ends up acknowledged exactly once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { PROTOCOL_VERSION, ReplicationService, decodeEvents, pb, type AgentMessage, type RelayMessage } from '../../protocol/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const FEED = 'clinical';
const ACK_TIMEOUT_MS = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Misbehaviour =
  /** Acks the first batch with a high-water mark far beyond its last seq. */
  | 'ack-beyond-sent'
  /** Acks correctly, then, once the agent is idle, acks again with no batch in flight. */
  | 'ack-nothing-in-flight'
  /** Nacks the first batch, asking for a seq far beyond what was sent. */
  | 'nack-beyond-sent'
  /** Welcomes, then never answers anything. */
  | 'silent-after-welcome';

/** A relay that keeps its high-water mark in memory and misbehaves on its first stream only. */
class ScriptedRelay {
  private readonly server = new grpc.Server();
  /** seq -> times stored (a correct relay stores each once). */
  readonly stored = new Map<number, number>();
  highWater = 0;
  streams = 0;
  port = 0;

  constructor(private readonly misbehaviour: Misbehaviour) {
    this.server.addService(ReplicationService, { replicate: (call: grpc.ServerDuplexStream<AgentMessage, RelayMessage>) => this.replicate(call) });
  }

  async start(): Promise<void> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
  }

  stop(): void {
    this.server.forceShutdown();
  }

  private replicate(call: grpc.ServerDuplexStream<AgentMessage, RelayMessage>): void {
    const misbehaving = ++this.streams === 1;
    let strayTimer: NodeJS.Timeout | undefined;
    call.on('error', () => {});
    call.on('cancelled', () => clearTimeout(strayTimer));
    call.on('data', (message: AgentMessage) => {
      if (message.hello) {
        call.write(
          pb.RelayMessage.create({
            welcome: { protocolVersion: PROTOCOL_VERSION, positions: [{ feed: FEED, highWaterSeq: this.highWater }], maxBatchBytes: 4 * 1024 * 1024, relayId: 'scripted-relay' },
          }),
        );
        return;
      }
      const batch = message.batch!;
      const firstSeq = Number(batch.firstSeq);
      const lastSeq = Number(batch.lastSeq);
      if (misbehaving) {
        switch (this.misbehaviour) {
          case 'ack-beyond-sent':
            call.write(pb.RelayMessage.create({ ack: { feed: FEED, highWaterSeq: lastSeq + 1000 } }));
            return;
          case 'nack-beyond-sent':
            call.write(pb.RelayMessage.create({ nack: { feed: FEED, expectedSeq: lastSeq + 1000, reason: pb.NackReason.NACK_REASON_GAP, detail: 'scripted' } }));
            return;
          case 'silent-after-welcome':
            return;
          case 'ack-nothing-in-flight':
            clearTimeout(strayTimer);
            // Once no batch has come for a while, the agent has nothing in flight.
            strayTimer = setTimeout(() => call.write(pb.RelayMessage.create({ ack: { feed: FEED, highWaterSeq: this.highWater } })), 500);
            break;
        }
      }
      call.write(this.store(batch, firstSeq, lastSeq));
    });
    call.on('end', () => call.end());
  }

  /** What a correct relay does with a batch: store what is new, ack; nack a gap. */
  private store(batch: NonNullable<AgentMessage['batch']>, firstSeq: number, lastSeq: number): RelayMessage {
    if (firstSeq > this.highWater + 1) {
      return pb.RelayMessage.create({ nack: { feed: FEED, expectedSeq: this.highWater + 1, reason: pb.NackReason.NACK_REASON_GAP, detail: 'gap' } });
    }
    const events = decodeEvents({
      codec: batch.codec ?? 0,
      payload: batch.payload!,
      payloadSha256: batch.payloadSha256!,
      firstSeq,
      lastSeq,
      eventCount: batch.eventCount ?? 0,
    });
    const duplicate = lastSeq <= this.highWater;
    for (const event of events) if (event.seq > this.highWater) this.stored.set(event.seq, (this.stored.get(event.seq) ?? 0) + 1);
    this.highWater = Math.max(this.highWater, lastSeq);
    return pb.RelayMessage.create({ ack: { feed: FEED, highWaterSeq: this.highWater, duplicate } });
  }
}

describe('agent against a misbehaving relay', () => {
  let dir: ReturnType<typeof makeTempDir> | undefined;
  let relay: ScriptedRelay | undefined;
  let agent: RunningAgent | undefined;

  afterEach(async () => {
    await agent?.stop();
    relay?.stop();
    dir?.remove();
    agent = undefined;
    relay = undefined;
    dir = undefined;
  });

  async function ingest(rows: number, from: number): Promise<void> {
    const body = Array.from({ length: rows }, (_, i) => ({ key: `P${from + i}`, name: `patient ${from + i}` }));
    const response = await fetch(`http://127.0.0.1:${agent!.httpPort}/v1/ingest/adt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
  }

  async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms; link: ${JSON.stringify(agent!.status().links[0])}`);
      await sleep(25);
    }
  }

  async function run(misbehaviour: Misbehaviour, expectedError: RegExp): Promise<void> {
    dir = makeTempDir('wardline-misbehaving-');
    relay = new ScriptedRelay(misbehaviour);
    await relay.start();
    const config = join(dir.path, 'agent.yaml');
    writeFileSync(
      config,
      `hospital: { id: misbehaving-relay-hospital }
dataDir: ./data
http: { listen: "127.0.0.1:0" }
relays: [{ name: scripted, address: "127.0.0.1:${relay.port}", secret: "scripted-secret-0001", allowPlaintext: true, connectTimeoutMs: 2000, handshakeTimeoutMs: 2000 }]
feeds: [{ name: ${FEED}, relay: scripted, streams: [adt] }]
replication: { ackTimeoutMs: ${ACK_TIMEOUT_MS}, maxInFlightBatches: 2, batchMaxEvents: 10, backoff: { initialMs: 100, maxMs: 500 } }
`,
    );
    agent = await startAgent(config, { logger: pino({ level: 'silent' }) });
    await ingest(25, 1);

    // The bad stream is dropped, and the status says why.
    const dropped = await waitFor(
      'the misbehaving stream to be dropped',
      () => agent!.status().links[0]!.transitions.find((t) => t.from === 'streaming' && t.to === 'backoff'),
      ACK_TIMEOUT_MS + 5_000,
    );
    expect(dropped.reason).toMatch(expectedError);
    expect(agent.status().links[0]!.lastError).toMatch(expectedError);

    // It reconnects to the (now correct) relay and replicates everything, new events too.
    await waitFor('a second stream', () => (relay!.streams >= 2 && agent!.status().links[0]!.state === 'streaming' ? true : undefined), 10_000);
    await ingest(15, 26);
    const status = await waitFor(
      'everything journaled acked',
      () => {
        const s = agent!.status();
        return s.feeds[0]!.ackedSeq === s.journal.headSeq && s.journal.headSeq === 40 ? s : undefined;
      },
      10_000,
    );
    expect(status.links[0]!.lastError).toMatch(expectedError);
    expect(relay.highWater).toBe(40);
    expect([...relay.stored.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect([...relay.stored.values()].every((n) => n === 1)).toBe(true);
  }

  it('drops a stream whose relay acks beyond what was sent', async () => {
    await run('ack-beyond-sent', /^ack \d+ for feed clinical is beyond what was sent \(\d+\)$/);
  });

  it('drops a stream whose relay acks with no batch in flight', async () => {
    await run('ack-nothing-in-flight', /^ack 25 for feed clinical with no batch in flight$/);
  });

  it('drops a stream whose relay nacks asking for a seq beyond what was sent', async () => {
    await run('nack-beyond-sent', /^nack for feed clinical expects \d+, beyond what was sent \(\d+\)$/);
  });

  it('drops a stream whose relay falls silent after Welcome', async () => {
    await run('silent-after-welcome', /^no reply from the relay for feed clinical within \d+ ms$/);
  });
});
