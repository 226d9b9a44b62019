// Watches a running agent from outside, as an operator's monitoring would: its
// resident memory from /proc, and its event-loop delay from its own /metrics
// (prom-client's monitorEventLoopDelay, reset at every scrape, so each sample is
// the p99 since the previous one). Node's histogram records the interval between
// its timer's ticks, every TICK_MS when the loop is free; the lag is what a tick
// came late, so the tick is subtracted.
import { readFileSync } from 'node:fs';

const LOOP_P99_METRIC = 'nodejs_eventloop_lag_p99_seconds';
/** prom-client's default eventLoopMonitoringPrecision, which the agent keeps. */
const TICK_MS = 10;

export interface WatchSample {
  atMs: number;
  rssBytes: number;
  loopP99Ms: number;
}

export interface WatchSummary {
  samples: number;
  firstRssBytes: number;
  maxRssBytes: number;
  lastRssBytes: number;
  /** The highest per-interval p99 seen. */
  maxLoopP99Ms: number;
  /** The median of the per-interval p99s. */
  medianLoopP99Ms: number;
}

export function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

export async function eventLoopP99Ms(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${LOOP_P99_METRIC} `));
  if (!line) throw new Error(`${metricsUrl} has no ${LOOP_P99_METRIC}`);
  return Math.max(0, Number(line.split(' ')[1]) * 1000 - TICK_MS);
}

export class ProcessWatch {
  readonly samples: WatchSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly pid: number,
    private readonly metricsUrl: string,
  ) {}

  /** Takes a sample now (also resetting the loop histogram), then every intervalMs. */
  async start(intervalMs: number): Promise<void> {
    await eventLoopP99Ms(this.metricsUrl); // start the first interval from here
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample()).catch(() => undefined);
    }, intervalMs);
  }

  async stop(): Promise<WatchSummary> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    const rss = this.samples.map((s) => s.rssBytes);
    const loops = this.samples.map((s) => s.loopP99Ms).sort((a, b) => a - b);
    return {
      samples: this.samples.length,
      firstRssBytes: rss[0]!,
      maxRssBytes: Math.max(...rss),
      lastRssBytes: rss[rss.length - 1]!,
      maxLoopP99Ms: loops[loops.length - 1]!,
      medianLoopP99Ms: loops[Math.floor(loops.length / 2)]!,
    };
  }

  private async sample(): Promise<void> {
    const loopP99Ms = await eventLoopP99Ms(this.metricsUrl);
    this.samples.push({ atMs: Date.now(), rssBytes: residentBytes(this.pid), loopP99Ms });
  }
}
