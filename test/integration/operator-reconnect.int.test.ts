// `wardline agent reconnect` / POST /v1/admin/reconnect with real processes: after
// the line is repaired, the operator need not wait out the agent's backoff.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlinePair } from '../support/wardline-pair.js';
import { WardlineProcess } from '../support/wardline-process.js';

const BACKOFF_MS = 20_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForLink(pair: WardlinePair, condition: (link: AgentStatus['links'][number]) => boolean, timeoutMs: number): Promise<AgentStatus['links'][number]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const link = (await pair.agentStatus()).links[0]!;
    if (condition(link)) return link;
    if (Date.now() > deadline) throw new Error(`link not as expected within ${timeoutMs} ms: ${JSON.stringify(link)}`);
    await sleep(50);
  }
}

/** Runs `wardline agent reconnect` and returns its exit code and output. */
async function reconnectCli(url: string): Promise<{ code: number | null; output: string }> {
  const cli = new WardlineProcess(['agent', 'reconnect', '--url', url]);
  const { code } = await cli.exited;
  return { code, output: cli.recentOutput };
}

describe('operator reconnect', () => {
  const dir = makeTempDir('wardline-reconnect-');
  let pair: WardlinePair;

  beforeAll(async () => {
    pair = await WardlinePair.create(dir.path, {
      hospital: 'reconnect-hospital',
      // A long, jitter-free backoff, so that only the operator can make it connect soon.
      agentReplication: { backoff: { initialMs: BACKOFF_MS, maxMs: BACKOFF_MS, jitter: 0 } },
      agentRelay: { connectTimeoutMs: 1000 },
    });
    // The agent first, with the relay down: it fails to connect and settles into the backoff.
    await pair.startAgent();
  });

  afterAll(async () => {
    await pair?.stop();
    dir.remove();
  });

  it('connects at once when asked, instead of sitting out a 20 s backoff', async () => {
    const waiting = await waitForLink(pair, (l) => l.state === 'backoff', 10_000);
    expect(waiting.nextAttemptAtMs! - Date.now()).toBeGreaterThan(BACKOFF_MS - 5_000);
    await pair.startRelay();

    const askedAt = Date.now();
    const { code, output } = await reconnectCli(pair.agentHttp);
    expect(code).toBe(0);
    expect(output).toContain('reconnecting');
    const streaming = await waitForLink(pair, (l) => l.state === 'streaming', 10_000);
    const tookMs = streaming.sinceMs - askedAt;
    console.log(`operator reconnect: streaming ${tookMs} ms after the request (the backoff had ${waiting.nextAttemptAtMs! - askedAt} ms to go)`);
    expect(tookMs).toBeLessThan(5_000);
    expect(streaming.sinceMs).toBeLessThan(waiting.nextAttemptAtMs!);
  });

  // With backoff.initialMs at 20 s, coming back within seconds proves the
  // operator's request skips the backoff delay.
  it('drops a live stream and comes straight back', async () => {
    const askedAt = Date.now();
    // An agent without http.admin still takes admin actions only as JSON with its CSRF token.
    const response = await pair.adminPost('/v1/admin/reconnect');
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ reconnecting: true });
    const link = await waitForLink(pair, (l) => l.state === 'streaming' && l.sinceMs >= askedAt, 3_000);
    expect(link.transitions.filter((t) => t.atMs >= askedAt).map((t) => `${t.from}->${t.to}`)).toEqual(['streaming->backoff', 'backoff->connecting', 'connecting->streaming']);
    expect(link.lastError).toBe('reconnect requested by operator');
  });

  it('answers other methods with 405 and the CLI says when the agent is unreachable', async () => {
    const get = await fetch(`${pair.agentHttp}/v1/admin/reconnect`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');

    const nobody = `http://127.0.0.1:${await freePort()}`;
    const { code, output } = await reconnectCli(nobody);
    expect(code).toBe(2);
    expect(output).toContain(`cannot reach the agent at ${nobody}`);
  });
});
