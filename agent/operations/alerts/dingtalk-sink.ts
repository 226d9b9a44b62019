// Sends each alert to a 钉钉 (DingTalk) custom robot: POST to the robot's
// webhook (…/robot/send?access_token=…) with {"msgtype":"markdown"} or
// {"msgtype":"text"} and "at". A robot with 加签 (signing) wants
// &timestamp=<ms>&sign=<urlencoded base64 HMAC-SHA256(secret, "<ms>\n<secret>")>
// in the query, within an hour of its clock: signed again on every try. The
// robot answers HTTP 200 with {"errcode":0} or a refusal (310000 bad signature
// or keyword, 300001 bad token, 130101 too many messages: at most 20 a minute).
import { createHmac } from 'node:crypto';
import type { AlertRecord } from './alert.js';
import type { AlertLanguage } from './alerts-config.js';
import { alertNotice, noticeMarkdown, noticeText, type NoticeSender } from './alert-notice.js';
import type { JsonPostRequest } from './json-poster.js';
import { errcodeRefusal } from './robot-answer.js';
import { RobotSink, type RobotSinkOptions } from './robot-sink.js';

export interface DingtalkSinkOptions extends RobotSinkOptions {
  url: string;
  /** The signing secret ("SEC…"); undefined for a robot secured by keywords or IP range. */
  secret?: string;
  msgtype: 'markdown' | 'text';
  atMobiles: readonly string[];
  language: AlertLanguage;
  agent: NoticeSender;
}

/** The body DingTalk documents for each msgtype. */
export type DingtalkBody =
  | { msgtype: 'markdown'; markdown: { title: string; text: string }; at: { atMobiles: string[]; isAtAll: false } }
  | { msgtype: 'text'; text: { content: string }; at: { atMobiles: string[]; isAtAll: false } };

/** DingTalk's signature: base64 of HMAC-SHA256 keyed with the secret over "<timestamp ms>\n<secret>" (not yet URL-encoded). */
export function dingtalkSign(timestampMs: number, secret: string): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

/** The webhook URL with timestamp and sign added, or unchanged without a secret. */
export function dingtalkSignedUrl(url: string, secret: string | undefined, timestampMs: number): string {
  if (secret === undefined) return url;
  const signed = new URL(url);
  signed.searchParams.set('timestamp', String(timestampMs));
  signed.searchParams.set('sign', dingtalkSign(timestampMs, secret));
  return signed.toString();
}

export class DingtalkSink extends RobotSink {
  readonly name = 'dingtalk';

  constructor(private readonly options: DingtalkSinkOptions) {
    super(options);
  }

  protected request(alert: AlertRecord): JsonPostRequest {
    const body = dingtalkBody(alert, this.options);
    return { url: () => dingtalkSignedUrl(this.options.url, this.options.secret, this.clock()), body: () => body, check: errcodeRefusal };
  }
}

export function dingtalkBody(alert: AlertRecord, options: Pick<DingtalkSinkOptions, 'msgtype' | 'atMobiles' | 'language' | 'agent'>): DingtalkBody {
  const notice = alertNotice(alert, options.agent, options.language);
  const at = { atMobiles: [...options.atMobiles], isAtAll: false as const };
  // DingTalk notifies an @-ed person only when "@<mobile>" appears in the text.
  const mentions = options.atMobiles.map((m) => `@${m}`).join(' ');
  const withMentions = (text: string) => (mentions ? `${text}\n\n${mentions}` : text);
  if (options.msgtype === 'markdown') return { msgtype: 'markdown', markdown: { title: notice.title, text: withMentions(noticeMarkdown(notice, options.language)) }, at };
  return { msgtype: 'text', text: { content: withMentions(noticeText(notice, options.language)) }, at };
}
