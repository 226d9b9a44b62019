// Posts each alert as JSON to the hospital's webhook (a chat bot, a ticketing
// system, an on-call tool). A receiver that is down or slow costs retries, never
// the agent's progress: AlertDelivery runs this off the evaluation path.
import type { AlertRecord } from './alert.js';
import type { AlertSink } from './alert-sink.js';
import { DEFAULT_WEBHOOK_ATTEMPTS, DEFAULT_WEBHOOK_TIMEOUT_MS } from './alerts-config.js';
import { JsonPoster } from './json-poster.js';

export interface WebhookSinkOptions {
  url: string;
  /** Per try, in ms; default DEFAULT_WEBHOOK_TIMEOUT_MS (5 000). */
  timeoutMs?: number;
  /** Tries per alert; default DEFAULT_WEBHOOK_ATTEMPTS (3). */
  attempts?: number;
  headers?: Record<string, string>;
  /** Who is talking: put beside the alert in every body. */
  agent: { hospital: string; agentId: string };
  /** Injected for tests; default a setTimeout promise. */
  sleep?: (ms: number) => Promise<void>;
}

/** The JSON body of every webhook POST. */
export interface WebhookBody {
  source: 'wardline-agent';
  hospital: string;
  agentId: string;
  alert: AlertRecord & { at: string };
}

export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  private readonly poster: JsonPoster;

  constructor(private readonly options: WebhookSinkOptions) {
    this.poster = new JsonPoster({
      timeoutMs: options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
      attempts: options.attempts ?? DEFAULT_WEBHOOK_ATTEMPTS,
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
  }

  async deliver(alert: AlertRecord): Promise<void> {
    const body: WebhookBody = {
      source: 'wardline-agent',
      hospital: this.options.agent.hospital,
      agentId: this.options.agent.agentId,
      alert: { ...alert, at: new Date(alert.atMs).toISOString() },
    };
    await this.poster.post({ url: () => this.options.url, body: () => body, ...(this.options.headers ? { headers: this.options.headers } : {}) });
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
