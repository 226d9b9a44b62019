// Samples the host's CPU and memory every intervalMs for the dashboard and the
// metrics. A probe that hangs or fails keeps the last figures and says why; a
// reading never overlaps the one before.
import { hostname } from 'node:os';
import type { HostProbe, HostReading } from './host-probe.js';

/** Default: a reading every 5 s (systeminformation's CPU figure is the busy share since the last call). */
export const DEFAULT_HOST_SAMPLE_INTERVAL_MS = 5_000;

export interface HostStatus extends Partial<HostReading> {
  hostname: string;
  /** ms since the epoch of the last good reading; null before the first. */
  sampledAtMs: number | null;
  /** Why the last reading failed; null when it succeeded. */
  probeError: string | null;
}

export interface HostSamplerOptions {
  probe: HostProbe;
  /** Milliseconds between readings; default DEFAULT_HOST_SAMPLE_INTERVAL_MS (5 000). */
  intervalMs?: number;
  clock?: () => number;
}

export class HostSampler {
  private reading: HostReading | undefined;
  private sampledAtMs: number | null = null;
  private probeError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly clock: () => number;
  private readonly name = hostname();

  constructor(private readonly options: HostSamplerOptions) {
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.options.intervalMs ?? DEFAULT_HOST_SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Takes a reading now, or joins the one under way. Never rejects. */
  sample(): Promise<void> {
    this.inFlight ??= this.read().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  status(): HostStatus {
    return { hostname: this.name, ...this.reading, sampledAtMs: this.sampledAtMs, probeError: this.probeError };
  }

  private async read(): Promise<void> {
    const timeoutMs = Math.max(2_000, this.options.intervalMs ?? DEFAULT_HOST_SAMPLE_INTERVAL_MS);
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)));
      this.reading = await Promise.race([this.options.probe.read(), deadline]);
      this.sampledAtMs = this.clock();
      this.probeError = null;
    } catch (error) {
      this.probeError = `cannot read CPU and memory: ${(error as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
  }
}
