// Delivers inbound events as Standard Webhooks: one signed POST per attempt,
// webhook-id = the inbound id (the same on every resend, so the endpoint
// deduplicates on it), the answer's status classified per the downlink spec.
//
// Failure modes handled:
//  1. Connection refused, reset, unreachable, a certificate not trusted: retryable sinkDown.
//  2. No answer (status and body) within timeoutMs: retryable, counted.
//  3. 409: the endpoint applied this id before: accepted.
//  4. 408, 429, 5xx: retryable, counted; other 4xx: refused, the body text (at
//     most 500 characters) as the reason; 3xx: retryable (redirects are not
//     followed: the URL in the config is wrong), counted, so it ends quarantined.
//  5. A 2xx whose body is not JSON, or has no "reference": accepted without one.
//  6. An endpoint that streams an endless body: at most 64 KiB is read.
import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import type { InboundSink, SinkDelivery, SinkOutcome } from './inbound-sink.js';
import { errnoOf, isUnreachable, sinkDownOutcome } from './sink-down.js';
import type { SinkLogger } from './sink-logger.js';
import { AgentErrorCode } from '../../errors.js';

/** The event type of every POST. */
export const WEBHOOK_EVENT_TYPE = 'wardline.inbound';
/** The longest refusal reason taken from a 4xx body, in characters. */
export const MAX_WEBHOOK_REASON_CHARS = 500;
/** Bytes of an answer body read at most. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface WebhookSinkOptions {
  url: URL;
  /** The Standard Webhooks secret, "whsec_" and base64. */
  secret: string;
  timeoutMs: number;
  /** PEM CA bundle for an https URL; undefined = the system's CAs. */
  ca?: string | undefined;
  serverName?: string | undefined;
  log: SinkLogger;
  now?: () => Date;
}

/** The JSON a webhook POST carries. */
export interface WebhookPayload {
  type: typeof WEBHOOK_EVENT_TYPE;
  timestamp: string;
  data: {
    id: string;
    channel: string;
    key: string;
    vendor: string;
    contentType: string;
    /** The vendor's JSON value, or the HL7 text. */
    body: unknown;
    receivedAt: string;
    expiresAt: string;
  };
}

export class WebhookSink implements InboundSink {
  readonly kind = 'webhook' as const;
  private readonly webhook: Webhook;
  private readonly agent: http.Agent;

  constructor(private readonly options: WebhookSinkOptions) {
    this.webhook = new Webhook(options.secret);
    this.agent =
      options.url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ca: options.ca, servername: options.serverName })
        : new http.Agent({ keepAlive: true });
  }

  async deliver(delivery: SinkDelivery): Promise<SinkOutcome> {
    let body: unknown;
    if (delivery.contentType === 'json') {
      try {
        body = JSON.parse(delivery.body.toString('utf8'));
      } catch (error) {
        return { kind: 'unmappable', reason: `the body is not JSON: ${(error as Error).message}` };
      }
    } else {
      body = delivery.body.toString('utf8');
    }
    const now = (this.options.now ?? (() => new Date()))();
    const payload: WebhookPayload = {
      type: WEBHOOK_EVENT_TYPE,
      timestamp: now.toISOString(),
      data: {
        id: delivery.id,
        channel: delivery.channel,
        key: delivery.key,
        vendor: delivery.vendor,
        contentType: delivery.contentType,
        body,
        receivedAt: new Date(delivery.receivedAtMs).toISOString(),
        expiresAt: new Date(delivery.expiresAtMs).toISOString(),
      },
    };
    const text = JSON.stringify(payload);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      'user-agent': 'wardline-agent',
      'webhook-id': delivery.id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': this.webhook.sign(delivery.id, now, text),
    };
    const answer = await this.post(text, headers);
    if ('error' in answer) {
      const code = errnoOf(answer.error, 'request-failed');
      if (code === 'timeout') return { kind: 'retryable', code, reason: `the webhook at ${this.options.url.host} did not answer within ${this.options.timeoutMs} ms`, sinkDown: false };
      if (isUnreachable(answer.error)) return sinkDownOutcome(`the webhook at ${this.options.url.host}`, answer.error);
      return { kind: 'retryable', code, reason: `the POST to ${this.options.url.host} failed: ${(answer.error as Error).message}`, sinkDown: false };
    }
    return classifyWebhookAnswer(answer.status, answer.body);
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private post(text: string, headers: Record<string, string>): Promise<{ status: number; body: string } | { error: unknown }> {
    const url = this.options.url;
    const request = (url.protocol === 'https:' ? https : http).request;
    return new Promise((resolve) => {
      let done = false;
      const finish = (result: { status: number; body: string } | { error: unknown }): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req = request(url, { method: 'POST', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size >= MAX_ANSWER_BYTES) return;
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8') }));
        res.on('error', (error) => finish({ error }));
        res.on('aborted', () => finish({ error: Object.assign(new Error('the answer was cut'), { code: 'ECONNRESET' }) }));
      });
      const timer = setTimeout(() => {
        finish({ error: Object.assign(new Error('timeout'), { code: 'timeout' }) });
        req.destroy();
      }, this.options.timeoutMs);
      req.on('error', (error) => finish({ error }));
      req.end(text);
    });
  }
}

/** What an HTTP answer to a webhook POST means. */
export function classifyWebhookAnswer(status: number, body: string): SinkOutcome {
  const code = `HTTP ${status}`;
  if (status >= 200 && status < 300) {
    const reference = referenceOf(body);
    return reference === undefined ? { kind: 'accepted', code } : { kind: 'accepted', code, reference };
  }
  if (status === 409) return { kind: 'accepted', code, reason: 'already applied' };
  // The endpoint refuses Wardline itself (a secret or a login not set up there), not this event: every event would
  // get the same answer, so none is refused for it; they wait, uncounted, until the setup is fixed.
  if (status === 401 || status === 403) return { kind: 'retryable', code, reason: `${reasonOf(status, body)} (${AgentErrorCode.SINK_SETUP}: the endpoint does not accept Wardline's signature or login; check the webhook secret at both ends)`, sinkDown: true };
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retryable', code, reason: reasonOf(status, body), sinkDown: false };
  if (status >= 400 && status < 500) return { kind: 'refused', code, reason: reasonOf(status, body) };
  return { kind: 'retryable', code, reason: `the webhook answered ${status}, which Wardline does not follow: point sink.url at the endpoint itself`, sinkDown: false };
}

function reasonOf(status: number, body: string): string {
  const text = body.trim();
  if (text === '') return `the webhook answered ${status} without a body`;
  return text.length <= MAX_WEBHOOK_REASON_CHARS ? text : `${text.slice(0, MAX_WEBHOOK_REASON_CHARS - 1)}…`;
}

function referenceOf(body: string): string | undefined {
  try {
    const json = JSON.parse(body) as unknown;
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
      const reference = (json as Record<string, unknown>).reference;
      if (typeof reference === 'string' && reference !== '') return reference.slice(0, 64);
      if (typeof reference === 'number' && Number.isFinite(reference)) return String(reference);
    }
  } catch {
    // not JSON: accepted without a reference
  }
  return undefined;
}
