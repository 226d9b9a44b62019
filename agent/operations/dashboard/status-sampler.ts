// The agent's operations heartbeat: every intervalMs it takes one status
// sample and hands it to everything that watches — the alert monitor, the
// charts' history, and the open dashboards — so they all see the same figures.
//
// The status sample counts what each feed's relay acknowledged since the previous
// one (a journal range scan; what was journaled comes from the journal's tally).
// So the sampler keeps its own share of the event loop bounded:
// after a sample that took d ms it waits at least MAX_DUTY_FACTOR × d before the
// next, and a backlog of millions slows the dashboard, never the HL7 ACKs.
import { performance } from 'node:perf_hooks';
import type { AgentStatus } from '../agent-status.js';
import type { AlertMonitor } from '../alerts/index.js';
import type { FeedFlowTotals } from '../../store/index.js';
import type { HostStatus } from '../host/index.js';
import type { FeedPoint, HistoryPoint, MetricHistory } from './metric-history.js';

/** Default: a sample a second. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 1_000;
/** The wait after a sample is at least this many times as long as the sample took (≤ 5 % of the loop). */
export const MAX_DUTY_FACTOR = 20;
/** Old alerts and link history are pruned this often, in ms. */
export const MAINTENANCE_INTERVAL_MS = 10 * 60 * 1000;

export interface StatusSamplerLogger {
  warn(fields: object, message: string): void;
}

/** What every open dashboard receives after each sample. */
export interface StatusFrame {
  type: 'status';
  nowMs: number;
  status: AgentStatus;
  host: HostStatus;
  point: HistoryPoint;
}

export interface StatusSamplerOptions {
  status: () => AgentStatus;
  /** Each feed's events journaled and acknowledged so far (BacklogCounter.flow): rates come from their differences. */
  flow: (feed: string) => FeedFlowTotals;
  host: () => HostStatus;
  history: MetricHistory;
  alerts: AlertMonitor;
  publish: (frame: StatusFrame) => void;
  /** Pruning of old alerts and link history; run every MAINTENANCE_INTERVAL_MS. */
  maintenance: (nowMs: number) => void;
  /** Default DEFAULT_SAMPLE_INTERVAL_MS (1 000). */
  intervalMs?: number;
  clock?: () => number;
  log: StatusSamplerLogger;
}

interface FeedPosition extends FeedFlowTotals {
  atMs: number;
}

export class StatusSampler {
  private readonly clock: () => number;
  private readonly intervalMs: number;
  private readonly positions = new Map<string, FeedPosition>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastFailure: string | undefined;
  private lastMaintenanceMs = 0;

  constructor(private readonly options: StatusSamplerOptions) {
    this.clock = options.clock ?? Date.now;
    this.intervalMs = options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample now; returns the frame it published. Exposed for tests. */
  sample(): StatusFrame {
    const status = this.options.status();
    const nowMs = this.clock();
    const host = this.options.host();
    const point = this.point(status, host, nowMs);
    this.options.history.add(point);
    this.options.alerts.check(status, nowMs);
    // The status was assembled before this sample's alerts: show them with it.
    const frame: StatusFrame = { type: 'status', nowMs, status: { ...status, alerts: this.options.alerts.status() }, host, point };
    this.options.publish(frame);
    if (nowMs - this.lastMaintenanceMs >= MAINTENANCE_INTERVAL_MS) {
      this.lastMaintenanceMs = nowMs;
      try {
        this.options.maintenance(nowMs);
      } catch (error) {
        this.options.log.warn({ err: error }, 'pruning old alerts and link history failed; trying again at the next maintenance');
      }
    }
    return frame;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      const started = performance.now();
      try {
        this.sample();
        this.lastFailure = undefined;
      } catch (error) {
        const message = (error as Error).message;
        // Said once per distinct failure, not once a second.
        if (message !== this.lastFailure) this.options.log.warn({ err: error }, 'operations sample failed; the dashboard and alerts wait for the next one');
        this.lastFailure = message;
      }
      if (!this.stopped) this.schedule(Math.max(this.intervalMs, (performance.now() - started) * MAX_DUTY_FACTOR));
    }, delayMs);
    // The sampler must never be what keeps the process alive.
    this.timer.unref();
  }

  private point(status: AgentStatus, host: HostStatus, nowMs: number): HistoryPoint {
    const feeds: Record<string, FeedPoint> = {};
    for (const feed of status.feeds) {
      const previous = this.positions.get(feed.feed);
      const flow = this.options.flow(feed.feed);
      const seconds = previous ? (nowMs - previous.atMs) / 1000 : 0;
      const rate = (count: number): number => (seconds > 0 ? round(count / seconds) : 0);
      feeds[feed.feed] = {
        backlogEvents: feed.backlog.events,
        backlogBytes: feed.backlog.bytes,
        lagSeconds: round(feed.lagSeconds),
        inPerSecond: previous ? rate(flow.journaled - previous.journaled) : 0,
        outPerSecond: previous ? rate(flow.acknowledged - previous.acknowledged) : 0,
      };
      this.positions.set(feed.feed, { ...flow, atMs: nowMs });
    }
    const memoryPercent =
      host.memoryTotalBytes && host.memoryUsedBytes !== undefined ? round((host.memoryUsedBytes / host.memoryTotalBytes) * 100) : null;
    return { atMs: nowMs, feeds, host: { cpuPercent: host.cpuPercent ?? null, memoryPercent } };
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
