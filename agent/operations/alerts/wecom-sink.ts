// Sends each alert to a 企业微信 (WeCom) group robot: POST to the robot's
// webhook (…/cgi-bin/webhook/send?key=…) with {"msgtype":"markdown"} or
// {"msgtype":"text"}. The robot answers HTTP 200 with {"errcode":0} or a
// refusal (errcode 93000 bad key, 45009 too many messages: at most 20 a minute).
import type { AlertRecord } from './alert.js';
import type { AlertSink } from './alert-sink.js';
import type { AlertLanguage } from './alerts-config.js';
import { alertNotice, noticeMarkdown, noticeText, truncateUtf8, type NoticeSender } from './alert-notice.js';
import { JsonPoster } from './json-poster.js';
import { errcodeRefusal } from './robot-answer.js';

/** WeCom's limits on content, in UTF-8 bytes. */
export const WECOM_MAX_MARKDOWN_BYTES = 4096;
export const WECOM_MAX_TEXT_BYTES = 2048;

export interface WecomSinkOptions {
  url: string;
  msgtype: 'markdown' | 'text';
  /** With msgtype text: mobile numbers to @, or "@all". */
  mentionMobiles: readonly string[];
  language: AlertLanguage;
  timeoutMs: number;
  attempts: number;
  agent: NoticeSender;
  sleep?: (ms: number) => Promise<void>;
}

/** The body WeCom documents for each msgtype. */
export type WecomBody =
  | { msgtype: 'markdown'; markdown: { content: string } }
  | { msgtype: 'text'; text: { content: string; mentioned_mobile_list?: string[] } };

export class WecomSink implements AlertSink {
  readonly name = 'wecom';
  private readonly poster: JsonPoster;

  constructor(private readonly options: WecomSinkOptions) {
    this.poster = new JsonPoster({ timeoutMs: options.timeoutMs, attempts: options.attempts, ...(options.sleep ? { sleep: options.sleep } : {}) });
  }

  async deliver(alert: AlertRecord): Promise<void> {
    const body = wecomBody(alert, this.options);
    await this.poster.post({ url: () => this.options.url, body: () => body, check: errcodeRefusal });
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}

export function wecomBody(alert: AlertRecord, options: Pick<WecomSinkOptions, 'msgtype' | 'mentionMobiles' | 'language' | 'agent'>): WecomBody {
  const notice = alertNotice(alert, options.agent, options.language);
  if (options.msgtype === 'markdown') return { msgtype: 'markdown', markdown: { content: truncateUtf8(noticeMarkdown(notice, options.language), WECOM_MAX_MARKDOWN_BYTES) } };
  const text: { content: string; mentioned_mobile_list?: string[] } = { content: truncateUtf8(noticeText(notice, options.language), WECOM_MAX_TEXT_BYTES) };
  if (options.mentionMobiles.length > 0) text.mentioned_mobile_list = [...options.mentionMobiles];
  return { msgtype: 'text', text };
}
