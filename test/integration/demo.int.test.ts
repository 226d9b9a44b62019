// `wardline demo` as a newcomer runs it: the real CLI from dist/, its relay, agent
// and simulated hospital as separate processes, the line between agent and relay
// cut and restored on a timetable, read from the demo's output and the agent's own
// /v1/status.
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_MARKER_FILE } from '../../cli/demo/demo-directory.js';
import { DEMO_DEFAULT_PORTS } from '../../cli/demo/demo-ports.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { WardlineProcess } from '../support/wardline-process.js';

interface StatusView {
  journal: { headSeq: number };
  links: { state: string }[];
  feeds: { feed: string; ackedSeq: number; backlog: { events: number } }[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = makeTempDir('wardline-demo-');
  cleanups.push(() => dir.remove());
  return dir.path;
}

function demo(args: string[]): WardlineProcess {
  const process = new WardlineProcess(['demo', ...args]);
  cleanups.push(async () => {
    if (process.child.exitCode === null && process.child.signalCode === null) await process.kill('SIGKILL');
  });
  return process;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function status(dashboard: string): Promise<StatusView | undefined> {
  try {
    const response = await fetch(`${dashboard}v1/status`, { signal: AbortSignal.timeout(2000) });
    return response.ok ? ((await response.json()) as StatusView) : undefined;
  } catch {
    return undefined;
  }
}

const clinical = (s: StatusView | undefined) => s?.feeds.find((f) => f.feed === 'clinical');

describe('wardline demo', () => {
  it('runs its parts as separate processes, cuts and restores the line on time, the backlog drains, and no part outlives it', { timeout: 180_000 }, async () => {
    // A directory the demo made before (its marker) with something stale in it: emptied.
    const dir = join(tempDir(), 'demo');
    mkdirSync(dir);
    writeFileSync(join(dir, DEMO_MARKER_FILE), '');
    writeFileSync(join(dir, 'stale-from-last-run.txt'), 'old');
    const run = demo(['--dir', dir, '--ephemeral-ports', '--cut-line-at', '3', '--restore-line-at', '12', '--rate', '20', '--duration', '150']);

    const banner = await until('the demo to be running', () => run.recentOutput, (o) => /processes .*simulated hospital pid \d+/.test(o), { timeoutMs: 90_000, pollMs: 250 });
    const dashboard = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(banner)![1]!;
    const [, relayPid, agentPid, hospitalPid] = /relay pid (\d+) · agent pid (\d+) · simulated hospital pid (\d+)/.exec(banner)!.map(Number) as [number, number, number, number];
    for (const pid of [relayPid, agentPid, hospitalPid]) expect(alive(pid)).toBe(true);
    expect(new Set([relayPid, agentPid, hospitalPid, run.child.pid]).size).toBe(4);
    expect(existsSync(join(dir, 'stale-from-last-run.txt'))).toBe(false);
    expect(existsSync(join(dir, DEMO_MARKER_FILE))).toBe(true);

    // Cut: the demo says so and what to look at; the agent's link is down and the backlog grows.
    // The announcement is several lines that may arrive in more than one chunk: wait for its last.
    await until('the cut to be announced', () => run.recentOutput, (o) => o.includes('LINE CUT') && /backlog of each feed grows/.test(o), { timeoutMs: 30_000, pollMs: 250 });
    expect(run.recentOutput).toContain(`On the dashboard (${dashboard}): the link turns red`);
    expect(run.recentOutput).toMatch(/backlog of each feed grows/);
    const down = await until('the link down with a growing backlog', () => status(dashboard), (s) => s !== undefined && s.links[0]?.state !== 'streaming' && (clinical(s)?.backlog.events ?? 0) >= 20, {
      timeoutMs: 30_000,
      pollMs: 250,
    });
    const ackedWhileDown = clinical(down)!.ackedSeq;

    // Restore: it says so; the link streams again and the relay acknowledges everything journaled during the cut.
    await until('the restore to be announced', () => run.recentOutput, (o) => o.includes('LINE RESTORED'), { timeoutMs: 30_000, pollMs: 250 });
    expect(run.recentOutput).toMatch(/amber "catching up" while the backlog drains/);
    const headAtRestore = (await until('the status after the restore', () => status(dashboard), (s) => s !== undefined))!.journal.headSeq;
    expect(headAtRestore).toBeGreaterThan(ackedWhileDown + 20);
    const drained = await until('the backlog drained', () => status(dashboard), (s) => s?.links[0]?.state === 'streaming' && (clinical(s)?.ackedSeq ?? 0) >= headAtRestore, { timeoutMs: 60_000, pollMs: 250 });
    expect(clinical(drained)!.ackedSeq).toBeGreaterThan(ackedWhileDown);
    // The demo's own counters show the link back too.
    await until('a counters line with the link streaming', () => run.recentOutput.split('LINE RESTORED')[1] ?? '', (o) => / · link streaming · /.test(o), { timeoutMs: 30_000, pollMs: 250 });

    // The downlink: the internet hospital's bookings reach the HIS, and both kinds of receipt come back to it.
    await until('accepted and refused receipts at the internet hospital', () => run.recentOutput, (o) => /receipts [1-9]\d* accepted, [1-9]\d* refused/.test(o), { timeoutMs: 60_000, pollMs: 500 });

    // A part that dies is reported, by name and pid.
    process.kill(hospitalPid, 'SIGKILL');
    await until('the dead part to be reported', () => run.recentOutput, (o) => o.includes(`the hospital (pid ${hospitalPid}) was killed by SIGKILL`), { timeoutMs: 15_000, pollMs: 100 });

    // SIGTERM stops the rest; a part died, so the exit is not 0; nothing is left running.
    const exit = await run.kill('SIGTERM');
    expect(exit, run.recentOutput).toEqual({ code: 1, signal: null });
    expect(run.recentOutput).toMatch(/Stopped\. The vendor received \d+ events/);
    for (const pid of [relayPid, agentPid, hospitalPid]) expect(alive(pid), `pid ${pid} still running`).toBe(false);
  });

  it('leaves no part running when it is killed with SIGKILL (the parts stop when the demo is gone)', { timeout: 120_000 }, async () => {
    const run = demo(['--dir', join(tempDir(), 'demo'), '--ephemeral-ports', '--rate', '5']);
    const banner = await until('the demo to be running', () => run.recentOutput, (o) => /processes .*simulated hospital pid \d+/.test(o), { timeoutMs: 90_000, pollMs: 250 });
    const pids = /relay pid (\d+) · agent pid (\d+) · simulated hospital pid (\d+)/.exec(banner)!.slice(1).map(Number);
    await run.kill('SIGKILL');
    await until('every part to be gone', () => pids.filter(alive), (left) => left.length === 0, { timeoutMs: 30_000, pollMs: 100 });
  });

  it('refuses a non-empty directory it did not make, and leaves it as it was', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ward-rota.xlsx'), 'the only copy');
    const run = demo(['--dir', dir, '--ephemeral-ports']);
    const exit = await run.exited;
    expect(exit.code, run.recentOutput).not.toBe(0);
    expect(run.recentOutput).toContain(`wardline demo: ${dir} is not empty and was not made by \`wardline demo\` (no ${DEMO_MARKER_FILE} file in it); nothing was changed`);
    expect(run.recentOutput).not.toMatch(/\n\s+at /);
    expect(readdirSync(dir)).toEqual(['ward-rota.xlsx']);
    expect(readFileSync(join(dir, 'ward-rota.xlsx'), 'utf8')).toBe('the only copy');
  });

  it('says "use --ephemeral-ports" for a taken default port, without a stack trace, before writing anything', { timeout: 60_000 }, async () => {
    // Hold the first default port this test can bind; one held by someone else is named just as well.
    let held: { server: Server; port: number } | undefined;
    for (const port of DEMO_DEFAULT_PORTS) {
      const server = createServer();
      const ok = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (ok) {
        held = { server, port };
        break;
      }
    }
    if (held) cleanups.push(() => new Promise<void>((resolve) => held!.server.close(() => resolve())));
    const dir = join(tempDir(), 'demo');
    const run = demo(['--dir', dir]);
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    const named = /wardline demo: port (\d+) is in use: use --ephemeral-ports\n/.exec(run.recentOutput);
    expect(named, run.recentOutput).not.toBeNull();
    expect(DEMO_DEFAULT_PORTS).toContain(Number(named![1]));
    if (held) expect(DEMO_DEFAULT_PORTS.indexOf(Number(named![1]))).toBeLessThanOrEqual(DEMO_DEFAULT_PORTS.indexOf(held.port));
    expect(run.recentOutput).not.toMatch(/\n\s+at /);
    expect(existsSync(dir)).toBe(false);
  });
});
