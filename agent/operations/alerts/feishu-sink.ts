// Sends each alert to a 飞书 (Feishu / Lark) custom bot: POST to the bot's
// webhook (…/open-apis/bot/v2/hook/…) with {"msg_type":"text"} or a rich-text
// {"msg_type":"post"}. A bot with 签名校验 wants "timestamp" (seconds, as a
// string) and "sign" in the body: base64 of HMAC-SHA256 keyed with
// "<timestamp>\n<secret>" over nothing, within an hour of its clock: signed
// again on every try. The bot answers HTTP 200 with {"code":0} or a refusal
// (19021 bad signature, 19024 keyword missing, 11232 too many messages).
import { createHmac } from 'node:crypto';
import type { AlertRecord } from './alert.js';
import type { AlertLanguage } from './alerts-config.js';
import { alertNotice, noticeText, type NoticeSender } from './alert-notice.js';
import type { JsonPostRequest } from './json-poster.js';
import { feishuRefusal } from './robot-answer.js';
import { RobotSink, type RobotSinkOptions } from './robot-sink.js';

export interface FeishuSinkOptions extends RobotSinkOptions {
  url: string;
  /** The signature secret; undefined for a bot without 签名校验. */
  secret?: string;
  msgtype: 'text' | 'post';
  language: AlertLanguage;
  agent: NoticeSender;
}

type FeishuTextTag = { tag: 'text'; text: string };
/** The body Feishu documents for each msg_type, with the signature when the bot has a secret. */
export type FeishuBody = ({ msg_type: 'text'; content: { text: string } } | { msg_type: 'post'; content: { post: Partial<Record<'zh_cn' | 'en_us', { title: string; content: FeishuTextTag[][] }>> } }) & {
  timestamp?: string;
  sign?: string;
};

/** Feishu's signature: base64 of HMAC-SHA256 keyed with "<timestamp s>\n<secret>" over an empty message. */
export function feishuSign(timestampSeconds: number, secret: string): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

export class FeishuSink extends RobotSink {
  readonly name = 'feishu';

  constructor(private readonly options: FeishuSinkOptions) {
    super(options);
  }

  protected request(alert: AlertRecord): JsonPostRequest {
    const message = feishuBody(alert, this.options);
    const secret = this.options.secret;
    const body = () => {
      if (secret === undefined) return message;
      const seconds = Math.floor(this.clock() / 1000);
      return { timestamp: String(seconds), sign: feishuSign(seconds, secret), ...message };
    };
    return { url: () => this.options.url, body, check: feishuRefusal };
  }
}

export function feishuBody(alert: AlertRecord, options: Pick<FeishuSinkOptions, 'msgtype' | 'language' | 'agent'>): FeishuBody {
  const notice = alertNotice(alert, options.agent, options.language);
  if (options.msgtype === 'text') return { msg_type: 'text', content: { text: noticeText(notice, options.language) } };
  const sep = options.language === 'zh' ? '：' : ': ';
  const lines: FeishuTextTag[][] = [[{ tag: 'text', text: notice.message }], ...notice.facts.map(([k, v]) => [{ tag: 'text' as const, text: `${k}${sep}${v}` }])];
  const locale = options.language === 'zh' ? 'zh_cn' : 'en_us';
  return { msg_type: 'post', content: { post: { [locale]: { title: notice.title, content: lines } } } };
}
