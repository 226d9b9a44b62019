// Sends each alert as an email through the hospital's mail server (SMTP, via
// nodemailer). Failure modes:
//  1. STARTTLS (the default): the connection must be upgraded; a server that
//     does not offer it is a failed delivery, never a silent fall-back to clear text.
//  2. Refused login, refused recipient, unreachable server: the try fails with
//     the server's answer; retried with doubling waits like the robots.
//  3. A server that hangs: every phase has the timeout.
import { createTransport, type Transporter } from 'nodemailer';
import type { AlertRecord } from './alert.js';
import type { AlertSink } from './alert-sink.js';
import type { AlertLanguage } from './alerts-config.js';
import { alertNotice, noticeText, type NoticeSender } from './alert-notice.js';
import { deliverWithRetries, unrefSleep } from './delivery-retries.js';

export interface EmailSinkOptions {
  host: string;
  port: number;
  security: 'starttls' | 'tls' | 'none';
  /** PEM CA certificates for a server with a hospital-internal certificate. */
  ca?: string;
  auth?: { user: string; pass: string };
  from: string;
  to: readonly string[];
  subjectPrefix: string;
  language: AlertLanguage;
  timeoutMs: number;
  attempts: number;
  agent: NoticeSender;
  sleep?: (ms: number) => Promise<void>;
}

export class EmailSink implements AlertSink {
  readonly name = 'email';
  private readonly transport: Transporter;
  private readonly sleep: (ms: number) => Promise<void>;
  private closed = false;

  constructor(private readonly options: EmailSinkOptions) {
    this.sleep = options.sleep ?? unrefSleep;
    this.transport = createTransport({
      host: options.host,
      port: options.port,
      secure: options.security === 'tls',
      requireTLS: options.security === 'starttls',
      ignoreTLS: options.security === 'none',
      ...(options.auth ? { auth: options.auth } : {}),
      ...(options.ca ? { tls: { ca: options.ca } } : {}),
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    });
  }

  async deliver(alert: AlertRecord): Promise<void> {
    const message = emailMessage(alert, this.options);
    await deliverWithRetries({ attempts: this.options.attempts, sleep: this.sleep, stopped: () => this.closed }, async () => {
      try {
        await this.transport.sendMail(message);
        return undefined;
      } catch (error) {
        return { error: new Error(`smtp ${this.options.host}:${this.options.port}: ${(error as Error).message}`, { cause: error }) };
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.transport.close();
  }
}

/** The message for one alert: subject is the prefix and the notice's title; the body its text. */
export function emailMessage(alert: AlertRecord, options: Pick<EmailSinkOptions, 'from' | 'to' | 'subjectPrefix' | 'language' | 'agent'>): { from: string; to: string[]; subject: string; text: string } {
  const notice = alertNotice(alert, options.agent, options.language);
  const subject = [options.subjectPrefix, notice.title].filter(Boolean).join(' ');
  return { from: options.from, to: [...options.to], subject, text: `${noticeText(notice, options.language)}\n` };
}
