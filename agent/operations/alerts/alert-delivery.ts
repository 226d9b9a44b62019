// Delivers alerts to one sink in the order they were raised, one at a time, off
// the path that raised them. A sink that is down holds up only its own queue;
// past MAX_QUEUED_ALERTS the oldest waiting alerts are dropped (they stay in
// agent.db and on the dashboard) and the drop is counted and logged once.
import type { AlertRecord } from './alert.js';
import type { AlertSink } from './alert-sink.js';

/** Alerts waiting for one sink before the oldest are dropped. */
export const MAX_QUEUED_ALERTS = 500;

export interface AlertDeliveryLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/** A sink's figures, for status. */
export interface AlertDeliveryStatus {
  sink: string;
  delivered: number;
  failed: number;
  dropped: number;
  queued: number;
  /** ms since the epoch of the last alert the sink took; null before the first. */
  lastDeliveredAtMs: number | null;
  /** Why the last failed delivery failed; null once one succeeds again. */
  lastError: string | null;
}

export class AlertDelivery {
  private readonly queue: AlertRecord[] = [];
  private running: Promise<void> | undefined;
  private readonly figures: AlertDeliveryStatus;

  constructor(
    private readonly sink: AlertSink,
    private readonly log: AlertDeliveryLogger,
    private readonly clock: () => number = Date.now,
  ) {
    this.figures = { sink: sink.name, delivered: 0, failed: 0, dropped: 0, queued: 0, lastDeliveredAtMs: null, lastError: null };
  }

  enqueue(alert: AlertRecord): void {
    this.queue.push(alert);
    if (this.queue.length > MAX_QUEUED_ALERTS) {
      this.queue.shift();
      if (this.figures.dropped++ === 0) this.log.warn({ sink: this.sink.name }, `alert ${this.sink.name} is not keeping up; dropping the oldest waiting alerts (they stay on the dashboard)`);
    }
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  status(): AlertDeliveryStatus {
    return { ...this.figures, queued: this.queue.length };
  }

  /** Waits for the alerts queued so far to be tried. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    await this.sink.close();
  }

  private async drain(): Promise<void> {
    for (let alert = this.queue.shift(); alert; alert = this.queue.shift()) {
      try {
        await this.sink.deliver(alert);
        if (this.figures.lastError !== null) this.log.info({ sink: this.sink.name }, `alert ${this.sink.name} delivering again`);
        this.figures.delivered++;
        this.figures.lastDeliveredAtMs = this.clock();
        this.figures.lastError = null;
      } catch (error) {
        const message = (error as Error).message;
        if (message !== this.figures.lastError) this.log.warn({ sink: this.sink.name, alertId: alert.id, err: message }, `alert ${this.sink.name} delivery failed`);
        this.figures.failed++;
        this.figures.lastError = message;
      }
    }
  }
}
