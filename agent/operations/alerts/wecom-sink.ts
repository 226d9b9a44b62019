// Sends each alert to a 企业微信 (WeCom) group robot: POST to the robot's
// webhook (…/cgi-bin/webhook/send?key=…) with {"msgtype":"markdown"} or
// {"msgtype":"text"}. The robot answers HTTP 200 with {"errcode":0} or a
// refusal (errcode 93000 bad key, 45009 too many messages: at most 20 a minute).
import type { AlertRecord } from './alert.js';
import type { AlertLanguage } from './alerts-config.js';
import { alertNotice, noticeMarkdown, noticeText, truncateUtf8, type NoticeSender } from './alert-notice.js';
import type { JsonPostRequest } from './json-poster.js';
import { errcodeRefusal } from './robot-answer.js';
import { RobotSink, type RobotSinkOptions } from './robot-sink.js';

/** WeCom's limits on content, in UTF-8 bytes. */
export const WECOM_MAX_MARKDOWN_BYTES = 4096;
export const WECOM_MAX_TEXT_BYTES = 2048;

export interface WecomSinkOptions extends RobotSinkOptions {
  url: string;
  msgtype: 'markdown' | 'text';
  /** With msgtype text: mobile numbers to @, or "@all". */
  mentionMobiles: readonly string[];
  language: AlertLanguage;
  agent: NoticeSender;
}

/** The body WeCom documents for each msgtype. */
export type WecomBody =
  | { msgtype: 'markdown'; markdown: { content: string } }
  | { msgtype: 'text'; text: { content: string; mentioned_mobile_list?: string[] } };

export class WecomSink extends RobotSink {
  readonly name = 'wecom';

  constructor(private readonly options: WecomSinkOptions) {
    super(options);
  }

  protected request(alert: AlertRecord): JsonPostRequest {
    const body = wecomBody(alert, this.options);
    return { url: () => this.options.url, body: () => body, check: errcodeRefusal };
  }
}

export function wecomBody(alert: AlertRecord, options: Pick<WecomSinkOptions, 'msgtype' | 'mentionMobiles' | 'language' | 'agent'>): WecomBody {
  const notice = alertNotice(alert, options.agent, options.language);
  if (options.msgtype === 'markdown') return { msgtype: 'markdown', markdown: { content: truncateUtf8(noticeMarkdown(notice, options.language), WECOM_MAX_MARKDOWN_BYTES) } };
  const text: { content: string; mentioned_mobile_list?: string[] } = { content: truncateUtf8(noticeText(notice, options.language), WECOM_MAX_TEXT_BYTES) };
  if (options.mentionMobiles.length > 0) text.mentioned_mobile_list = [...options.mentionMobiles];
  return { msgtype: 'text', text };
}
