// What the chat robots (WeCom, DingTalk, Feishu) have in common: a JSON POST
// with retries, a clock for the signatures, and a body made from the alert.
// Each robot says only how its request looks and how it answers.
import type { AlertRecord } from './alert.js';
import type { AlertSink } from './alert-sink.js';
import { JsonPoster, type JsonPostRequest } from './json-poster.js';

export interface RobotSinkOptions {
  timeoutMs: number;
  attempts: number;
  /** ms since the epoch, for the signatures; default Date.now. */
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export abstract class RobotSink implements AlertSink {
  abstract readonly name: string;
  private readonly poster: JsonPoster;
  protected readonly clock: () => number;

  constructor(options: RobotSinkOptions) {
    this.clock = options.clock ?? Date.now;
    this.poster = new JsonPoster({ timeoutMs: options.timeoutMs, attempts: options.attempts, ...(options.sleep ? { sleep: options.sleep } : {}) });
  }

  /** The robot's request for one alert; its url() and body() are called again on every try. */
  protected abstract request(alert: AlertRecord): JsonPostRequest;

  async deliver(alert: AlertRecord): Promise<void> {
    await this.poster.post(this.request(alert));
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
