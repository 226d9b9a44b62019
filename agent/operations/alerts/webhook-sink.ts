// Posts each alert as JSON to the hospital's webhook (a chat bot, a ticketing
// system, an on-call tool). A receiver that is down or slow costs retries, never
// the agent's progress: AlertDelivery runs this off the evaluation path.
import type { AlertRecord } from './alert.js';
import type { AlertSink } from './alert-sink.js';
import { DEFAULT_WEBHOOK_ATTEMPTS, DEFAULT_WEBHOOK_TIMEOUT_MS } from './alerts-config.js';

/** Wait before the second try, in ms; doubled for each further try. */
export const WEBHOOK_RETRY_DELAY_MS = 1_000;

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
  private readonly sleep: (ms: number) => Promise<void>;
  private closed = false;

  constructor(private readonly options: WebhookSinkOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
  }

  async deliver(alert: AlertRecord): Promise<void> {
    const body: WebhookBody = {
      source: 'wardline-agent',
      hospital: this.options.agent.hospital,
      agentId: this.options.agent.agentId,
      alert: { ...alert, at: new Date(alert.atMs).toISOString() },
    };
    const attempts = this.options.attempts ?? DEFAULT_WEBHOOK_ATTEMPTS;
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < attempts && !this.closed; attempt++) {
      if (attempt > 0) await this.sleep(WEBHOOK_RETRY_DELAY_MS * 2 ** (attempt - 1));
      try {
        const response = await fetch(this.options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', ...this.options.headers },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        lastError = new Error(`HTTP ${response.status} from ${redact(this.options.url)}`);
        // A 4xx other than 408/429 will not get better by asking again.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
      } catch (error) {
        lastError = new Error(`${redact(this.options.url)}: ${(error as Error).message}`, { cause: error });
      }
    }
    throw lastError ?? new Error('webhook closed');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** The URL without credentials or query (which may hold a token), for messages. */
function redact(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
