// POSTs one JSON body to an HTTP receiver with a timeout per try and retries
// with doubling waits: the webhook and the chat robots share it. Failure modes:
//  1. No answer, refused, reset: retried.
//  2. 5xx, 408, 429: retried; another 4xx will not get better by asking again.
//  3. HTTP 200 that says no in its body (DingTalk and WeCom `errcode`, Feishu
//     `code`): the receiver's check turns it into an error, which is retried
//     (the robots answer rate limits this way).
//  4. The sink closes while waiting: the remaining tries are skipped.
// Messages never carry the URL's query, which holds the robots' tokens.
import { deliverWithRetries, unrefSleep, type FailedTry } from './delivery-retries.js';

export interface JsonPostRequest {
  /** Built per try: a signature's timestamp must be fresh on every try. */
  url: () => string;
  body: () => unknown;
  headers?: Record<string, string>;
  /** Why a 2xx answer is a refusal, or undefined when it is a success. */
  check?: (text: string) => string | undefined;
}

export interface JsonPosterOptions {
  /** Per try, in ms. */
  timeoutMs: number;
  /** Tries per POST (the first and the retries). */
  attempts: number;
  /** Injected for tests; default a setTimeout promise. */
  sleep?: (ms: number) => Promise<void>;
}

/** Whether an HTTP status may succeed on another try. */
export function isRetryableHttpStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export class JsonPoster {
  private readonly sleep: (ms: number) => Promise<void>;
  private closed = false;

  constructor(private readonly options: JsonPosterOptions) {
    this.sleep = options.sleep ?? unrefSleep;
  }

  /** Resolves when one try succeeded; rejects with the last try's reason. */
  post(request: JsonPostRequest): Promise<void> {
    return deliverWithRetries({ attempts: this.options.attempts, sleep: this.sleep, stopped: () => this.closed }, () => this.try(request));
  }

  private async try(request: JsonPostRequest): Promise<FailedTry | undefined> {
    const url = request.url();
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...request.headers },
        body: JSON.stringify(request.body()),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const text = await response.text().catch(() => '');
      if (response.ok) {
        const refusal = request.check?.(text);
        return refusal === undefined ? undefined : { error: new Error(`${refusal} from ${redactUrl(url)}`) };
      }
      return { error: new Error(`HTTP ${response.status} from ${redactUrl(url)}`), final: !isRetryableHttpStatus(response.status) };
    } catch (error) {
      return { error: new Error(`${redactUrl(url)}: ${(error as Error).message}`, { cause: error }) };
    }
  }

  close(): void {
    this.closed = true;
  }
}

/** The URL without credentials or query (which may hold a token), for messages. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
