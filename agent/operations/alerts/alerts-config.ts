// The `alerts:` section of agent.yaml: thresholds, debounce times, retention and
// where alerts are delivered. The schema is the definition; defaults sit beside
// it with their unit.
import { z } from 'zod';
import { durationSchema } from '../../../runtime/index.js';
import { NameSchema } from '../../../protocol/index.js';

/** A link not streaming for this long is reported lost, in ms (brief reconnects are not worth a page). */
export const DEFAULT_LINK_LOST_AFTER_MS = 30_000;
/** A condition must be fine without interruption this long before it is reported resolved, in ms. */
export const DEFAULT_SETTLE_AFTER_MS = 60_000;
/** A feed whose oldest unacknowledged event is older than this is lagging, in ms. */
export const DEFAULT_LAG_THRESHOLD_MS = 5 * 60_000;
/** A feed whose oldest waiting event is older than this has a stale backlog, in ms. */
export const DEFAULT_BACKLOG_AGE_THRESHOLD_MS = 60 * 60_000;
/** An imaging feed with bytes waiting, allowed to send, whose chunks have not moved for this long raises imaging-stalled, in ms. */
export const DEFAULT_IMAGING_STALLED_AFTER_MS = 10 * 60_000;
/** Lag and backlog-age alerts resolve only below threshold × (1 − this / 100), so a value hovering at the threshold does not flap. */
export const DEFAULT_ALERT_HYSTERESIS_PERCENT = 20;
/** Alerts are kept this long in agent.db, in ms. */
export const DEFAULT_ALERT_RETENTION_MS = 90 * 86_400_000;
/** A webhook POST not answered within this long counts as failed, in ms. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5_000;
/** Tries per alert for the webhook (the first and the retries). */
export const DEFAULT_WEBHOOK_ATTEMPTS = 3;
export const DEFAULT_SYSLOG_PORT = 514;
/** A chat robot's POST not answered within this long counts as failed, in ms. */
export const DEFAULT_ROBOT_TIMEOUT_MS = 5_000;
/** Tries per alert for a chat robot (the first and the retries). */
export const DEFAULT_ROBOT_ATTEMPTS = 3;
/** The SMTP submission port (STARTTLS). */
export const DEFAULT_SMTP_PORT = 587;
/** An SMTP conversation that takes longer than this counts as failed, in ms. */
export const DEFAULT_SMTP_TIMEOUT_MS = 30_000;
/** Tries per alert for email. */
export const DEFAULT_SMTP_ATTEMPTS = 3;
export const DEFAULT_SYSLOG_APP_NAME = 'wardline';

/** RFC 5424 facility names and their codes. */
export const SYSLOG_FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

const name = NameSchema;

const FeedThresholdsSchema = z.strictObject({
  /** This feed's lag threshold; overrides alerts.lag. */
  lag: durationSchema({ minMs: 1000 }).optional(),
  /** This feed's backlog-age threshold; overrides alerts.backlogAge. */
  backlogAge: durationSchema({ minMs: 1000 }).optional(),
});

const WebhookSchema = z.strictObject({
  /** Receives each alert as `POST` with a JSON body (the alert record). */
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  timeoutMs: durationSchema({ minMs: 100 }).default(DEFAULT_WEBHOOK_TIMEOUT_MS),
  attempts: z.number().int().min(1).max(10).default(DEFAULT_WEBHOOK_ATTEMPTS),
  /** Extra request headers, e.g. an Authorization the receiver wants. */
  headers: z.record(z.string(), z.string()).default({}),
});

const SyslogSchema = z.strictObject({
  /** The syslog collector; RFC 5424 messages go to it over UDP. */
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(DEFAULT_SYSLOG_PORT),
  facility: z.enum(Object.keys(SYSLOG_FACILITIES) as [SyslogFacility, ...SyslogFacility[]]).default('local0'),
  appName: z.string().regex(/^[!-~]{1,48}$/, 'expected 1-48 printable ASCII characters without spaces').default(DEFAULT_SYSLOG_APP_NAME),
  /** HOSTNAME in each message; default the machine's host name. */
  hostname: z.string().regex(/^[!-~]{1,255}$/, 'expected printable ASCII without spaces').optional(),
});

/** The words robots and email use: Chinese by default, for the staff who read them. */
const LanguageSchema = z.enum(['zh', 'en']).default('zh');
const robotUrl = (host: string) => z.url({ protocol: /^https?$/, error: `expected an http:// or https:// URL (the robot's webhook address from ${host})` });
const robotCommon = {
  timeoutMs: durationSchema({ minMs: 100 }).default(DEFAULT_ROBOT_TIMEOUT_MS),
  attempts: z.number().int().min(1).max(10).default(DEFAULT_ROBOT_ATTEMPTS),
  language: LanguageSchema,
};

const WecomSchema = z.strictObject({
  /** The group robot's webhook: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=… (the key is the secret). */
  url: robotUrl('the group\'s robot settings'),
  /** markdown (coloured, no @-mentions) or text (plain, can @ people by mobile number). */
  msgtype: z.enum(['markdown', 'text']).default('markdown'),
  /** Mobile numbers to @ with msgtype text; "@all" for everyone. */
  mentionMobiles: z.array(z.string().min(1)).default([]),
  ...robotCommon,
});

const DingtalkSchema = z.strictObject({
  /** The custom robot's webhook: https://oapi.dingtalk.com/robot/send?access_token=… */
  url: robotUrl('the robot\'s security settings'),
  /** The robot's signing secret (加签, "SEC…"), in a file readable by the agent alone; without it the robot must use keywords or an IP range. */
  secretFile: z.string().min(1).optional(),
  msgtype: z.enum(['markdown', 'text']).default('markdown'),
  /** Mobile numbers to @ in each alert. */
  atMobiles: z.array(z.string().min(1)).default([]),
  ...robotCommon,
});

const FeishuSchema = z.strictObject({
  /** The custom bot's webhook: https://open.feishu.cn/open-apis/bot/v2/hook/… (Lark: open.larksuite.com). */
  url: robotUrl('the bot\'s settings'),
  /** The bot's signature secret (签名校验), in a file readable by the agent alone. */
  secretFile: z.string().min(1).optional(),
  /** text (plain) or post (rich text with a title). */
  msgtype: z.enum(['text', 'post']).default('post'),
  ...robotCommon,
});

const EmailSchema = z.strictObject({
  /** The hospital's mail server. */
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(DEFAULT_SMTP_PORT),
  /** starttls: plain connection upgraded and TLS required (port 587); tls: TLS from the first byte (port 465); none: only on a trusted local relay. */
  security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  /** A CA certificate (PEM) for a mail server with a hospital-internal certificate. */
  caFile: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  /** The SMTP password, in a file readable by the agent alone; requires username. */
  passwordFile: z.string().min(1).optional(),
  from: z.string().min(3),
  to: z.array(z.string().min(3)).min(1),
  /** Put before every subject, so mail rules can sort alerts. */
  subjectPrefix: z.string().default('[Wardline]'),
  timeoutMs: durationSchema({ minMs: 1000 }).default(DEFAULT_SMTP_TIMEOUT_MS),
  attempts: z.number().int().min(1).max(10).default(DEFAULT_SMTP_ATTEMPTS),
  language: LanguageSchema,
}).refine((e) => (e.passwordFile === undefined) === (e.username === undefined), { message: 'expected username and passwordFile together (or neither, for a relay that needs no login)', path: ['passwordFile'] });

export const AlertsConfigSchema = z.strictObject({
  /** A link not streaming this long is reported lost. */
  linkLostAfter: durationSchema({ minMs: 0 }).default(DEFAULT_LINK_LOST_AFTER_MS),
  /** Fine without interruption this long before any condition is reported resolved. */
  settleAfter: durationSchema({ minMs: 0 }).default(DEFAULT_SETTLE_AFTER_MS),
  /** Every feed's lag threshold unless alerts.feeds says otherwise; also what `wardline agent status` checks. */
  lag: durationSchema({ minMs: 1000 }).default(DEFAULT_LAG_THRESHOLD_MS),
  /** Every feed's backlog-age threshold unless alerts.feeds says otherwise. */
  backlogAge: durationSchema({ minMs: 1000 }).default(DEFAULT_BACKLOG_AGE_THRESHOLD_MS),
  /** An imaging feed with bytes waiting whose class may send and whose chunks have not moved this long raises imaging-stalled. */
  imagingStalledAfter: durationSchema({ minMs: 1000 }).default(DEFAULT_IMAGING_STALLED_AFTER_MS),
  hysteresisPercent: z.number().min(0).max(90).default(DEFAULT_ALERT_HYSTERESIS_PERCENT),
  /** Per-feed thresholds, by feed name. */
  feeds: z.record(name, FeedThresholdsSchema).default({}),
  /** Sources silent longer than this raise an alert, by source name ("http" is the ingest API); unlisted sources never do. */
  quietPeriods: z.record(name, durationSchema({ minMs: 1000 })).default({}),
  /** Alerts older than this are deleted from agent.db. */
  retention: durationSchema({ minMs: 60_000 }).default(DEFAULT_ALERT_RETENTION_MS),
  webhook: WebhookSchema.optional(),
  syslog: SyslogSchema.optional(),
  /** 企业微信 group robot. */
  wecom: WecomSchema.optional(),
  /** 钉钉 custom robot. */
  dingtalk: DingtalkSchema.optional(),
  /** 飞书 / Lark custom bot. */
  feishu: FeishuSchema.optional(),
  /** Email over SMTP. */
  email: EmailSchema.optional(),
});

export type AlertsConfig = z.output<typeof AlertsConfigSchema>;
export type WebhookConfig = z.output<typeof WebhookSchema>;
export type SyslogConfig = z.output<typeof SyslogSchema>;
export type WecomConfig = z.output<typeof WecomSchema>;
export type DingtalkConfig = z.output<typeof DingtalkSchema>;
export type FeishuConfig = z.output<typeof FeishuSchema>;
export type EmailConfig = z.output<typeof EmailSchema>;
/** The language of robot and email texts. */
export type AlertLanguage = 'zh' | 'en';

/** A config problem, as zod's superRefine takes it. */
export interface AlertsConfigIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Names under alerts.feeds and alerts.quietPeriods that match nothing configured:
 * a typo there would silently mean "never alert", so it is refused at start.
 */
export function unknownAlertNames(alerts: AlertsConfig, feeds: readonly string[], sources: readonly string[]): AlertsConfigIssue[] {
  const issues: AlertsConfigIssue[] = [];
  for (const feed of Object.keys(alerts.feeds)) {
    if (!feeds.includes(feed)) issues.push({ path: ['alerts', 'feeds', feed], message: `expected one of the feeds under feeds (${feeds.join(', ') || 'none'})` });
  }
  const known = [...sources, 'http'];
  for (const source of Object.keys(alerts.quietPeriods)) {
    if (!known.includes(source)) issues.push({ path: ['alerts', 'quietPeriods', source], message: `expected one of the sources under sources or "http" (${known.join(', ')})` });
  }
  return issues;
}
