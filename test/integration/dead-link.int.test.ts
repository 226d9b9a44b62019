// The leased line going dark, with real processes: a relay and an agent as child
// processes, the agent dialling the relay through a FaultProxy, a simulated
// hospital sending HL7 throughout. What the hospital's operator would notice:
// a half-open link (packets silently dropped, nobody closes anything) is found
// within seconds, ingest never stops, and when the line returns replication
// resumes from the relay's high-water mark with nothing lost or doubled.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { SimulatedHospital, type CorpusMessage } from '../../simulator/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { startProxiedPair } from '../support/link-proxied-pair.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_FEED, PAIR_VENDOR_KEY, WardlinePair, type WardlinePairOptions } from '../support/wardline-pair.js';

/** DESIGN invariant 3: "a dead or half-open link is detected in seconds". */
const DETECTION_LIMIT_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the agent's status until `condition` holds; returns that status, or throws after timeoutMs. */
async function waitForStatus(pair: WardlinePair, what: string, condition: (s: AgentStatus) => boolean, timeoutMs: number, everyMs = 100): Promise<AgentStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await pair.agentStatus();
    if (condition(status)) return status;
    if (Date.now() > deadline) throw new Error(`agent status: ${what} not within ${timeoutMs} ms; links: ${JSON.stringify(status.links)}`);
    await sleep(everyMs);
  }
}

const link = (s: AgentStatus) => s.links[0]!;

describe('dead and half-open links between agent and relay', () => {
  let dir: ReturnType<typeof makeTempDir> | undefined;
  let pair: WardlinePair | undefined;
  let proxy: FaultProxy | undefined;
  let hospital: SimulatedHospital | undefined;
  let acked: CorpusMessage[] = [];

  /** A relay, a fault proxy in front of it, and an agent dialling the proxy. */
  async function startLine(name: string, extra: Partial<WardlinePairOptions> = {}): Promise<{ pair: WardlinePair; proxy: FaultProxy }> {
    const line = await startProxiedPair(name, extra);
    ({ dir, pair, proxy } = line);
    return line;
  }

  function startHospital(seed: string, ratePerSecond: number): SimulatedHospital {
    acked = [];
    hospital = new SimulatedHospital({
      mllp: { host: '127.0.0.1', port: pair!.ports.mllp },
      ratePerSecond,
      connections: 2,
      seed,
      onAck: (message, ack) => {
        if (ack.code === 'AA') acked.push(message);
      },
    });
    hospital.start();
    return hospital;
  }

  /** Stops the hospital, waits for the backlog to drain, and checks the feed holds every AA'd message exactly once, in order. */
  async function expectFeedExactlyOnce(): Promise<number> {
    await hospital!.stop();
    const status = await pair!.waitForDrain(30_000);
    expect(status.feeds[0]!.ackedSeq).toBe(status.journal.headSeq);
    const feed = await readWholeFeed(pair!.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY);
    const counts = new Map<string, number>();
    for (const event of feed) counts.set(event.headers.controlId!, (counts.get(event.headers.controlId!) ?? 0) + 1);
    const missing = acked.filter((m) => !counts.has(m.controlId)).length;
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    expect({ missing, duplicated, inFeed: feed.length }).toEqual({ missing: 0, duplicated: 0, inFeed: acked.length });
    for (let i = 1; i < feed.length; i++) expect(feed[i]!.seq).toBeGreaterThan(feed[i - 1]!.seq);
    return feed.length;
  }

  afterEach(async () => {
    await hospital?.stop();
    await pair?.stop();
    await proxy?.stop();
    dir?.remove();
    hospital = undefined;
    pair = undefined;
    proxy = undefined;
    dir = undefined;
  });

  it(`notices a blackholed link within ${DETECTION_LIMIT_MS / 1000} s, keeps ingesting, and resumes without loss or duplicates once healed`, async () => {
    const { pair, proxy } = await startLine('blackhole');
    startHospital('dead-link-blackhole', 40);
    await waitForStatus(pair, 'replication under way', (s) => s.feeds[0]!.ackedSeq >= 40, 20_000);

    proxy.blackhole();
    const cutAt = Date.now();
    const detected = await waitForStatus(pair, 'link leaves streaming', (s) => link(s).state !== 'streaming', DETECTION_LIMIT_MS + 10_000);
    const detectionMs = Date.now() - cutAt;
    const relayBeforeHeal = (await pair.agentStatus()).feeds[0]!.ackedSeq;

    // The hospital notices nothing: HL7 keeps being acknowledged while the line is dark.
    const ackedAtDetection = acked.length;
    await sleep(2_000);
    expect(acked.length).toBeGreaterThan(ackedAtDetection + 20);
    const down = await pair.agentStatus();
    expect(link(down).state).not.toBe('streaming');
    expect(down.feeds[0]!.backlog.events).toBeGreaterThan(0);

    await proxy.heal();
    const healedAt = Date.now();
    const resumed = await waitForStatus(pair, 'first ack after heal', (s) => (s.feeds[0]!.lastAckAtMs ?? 0) > healedAt && link(s).state === 'streaming', 20_000, 50);
    const healToAckMs = resumed.feeds[0]!.lastAckAtMs! - healedAt;

    console.log(
      `dead link: blackhole detected in ${detectionMs} ms (state ${link(detected).state}, last error: ${link(detected).lastError}); ` +
        `heal -> first ack ${healToAckMs} ms; relay had acked seq ${relayBeforeHeal}, backlog while dark ${down.feeds[0]!.backlog.events} events`,
    );
    expect(detectionMs).toBeLessThanOrEqual(DETECTION_LIMIT_MS);
    // It went down once for the blackhole, and came back.
    const transitions = link(resumed).transitions.filter((t) => t.atMs >= cutAt);
    expect(transitions[0]).toMatchObject({ from: 'streaming', to: 'backoff' });
    expect(transitions.at(-1)).toMatchObject({ to: 'streaming' });

    const inFeed = await expectFeedExactlyOnce();
    expect(inFeed).toBeGreaterThan(relayBeforeHeal);
  }, 60_000);

  it('reconnects by itself after connection resets, with nothing lost or duplicated', async () => {
    const { pair, proxy } = await startLine('reset');
    startHospital('dead-link-reset', 60);
    await waitForStatus(pair, 'replication under way', (s) => s.feeds[0]!.ackedSeq >= 30, 20_000);

    const reconnectMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const cutAt = Date.now();
      proxy.reset();
      const back = await waitForStatus(
        pair,
        'link down and back',
        (s) => link(s).state === 'streaming' && link(s).transitions.some((t) => t.atMs >= cutAt && t.to === 'backoff'),
        10_000,
        50,
      );
      reconnectMs.push(link(back).sinceMs - cutAt);
      await sleep(500);
    }
    console.log(`dead link: reset -> streaming again in ${reconnectMs.join(', ')} ms`);
    expect(proxy.stats.resets).toBeGreaterThanOrEqual(3);
    await expectFeedExactlyOnce();
  }, 60_000);

  it("the relay accepts the agent's keepalive pings every second, idle and busy, without a GOAWAY", async () => {
    const { pair, proxy } = await startLine('keepalive', {
      agentRelay: { keepaliveTimeMs: 1000 },
      // grpc-js writes its keepalive and transport traces to stderr, which lands in agent.log.
      agentEnv: { GRPC_TRACE: 'keepalive,transport', GRPC_VERBOSITY: 'DEBUG' },
    });
    const startedAt = Date.now();
    const states = new Set<string>();
    const watch = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        states.add(link(await pair.agentStatus()).state);
        await sleep(250);
      }
    };
    await watch(9_000); // idle: only pings on the line
    startHospital('dead-link-keepalive', 80);
    await watch(9_000); // busy
    await expectFeedExactlyOnce();

    const status = await pair.agentStatus();
    expect([...states]).toEqual(['streaming']);
    expect(link(status).transitions.filter((t) => t.atMs >= startedAt && t.to !== 'streaming')).toEqual([]);
    expect(link(status).reconnects).toBe(0);
    const agentLog = readFileSync(join(pair.dir, 'agent.log'), 'utf8');
    const relayLog = readFileSync(join(pair.dir, 'relay.log'), 'utf8');
    const pings = agentLog.split('\n').filter((l) => l.includes('Sending ping')).length;
    const answered = agentLog.split('\n').filter((l) => l.includes('Received ping response')).length;
    console.log(`keepalive: ${pings} pings sent by the agent in ~18 s, ${answered} answered; proxy saw ${proxy.stats.connectionsAccepted} connection(s)`);
    // Proof the 1 s keepalive was in force (the test cannot pass on the 5 s default).
    expect(pings).toBeGreaterThanOrEqual(12);
    expect(answered).toBeGreaterThanOrEqual(pings - 1);
    for (const text of [agentLog, relayLog]) {
      expect(text).not.toMatch(/too_many_pings/i);
      expect(text).not.toMatch(/GOAWAY/);
    }
    expect(proxy.stats.connectionsAccepted).toBe(1);
  }, 60_000);
});
