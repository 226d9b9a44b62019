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
/** Lag and backlog-age alerts resolve only below threshold × (1 − this / 100), so a value hovering at the threshold does not flap. */
export const DEFAULT_ALERT_HYSTERESIS_PERCENT = 20;
/** Alerts are kept this long in agent.db, in ms. */
export const DEFAULT_ALERT_RETENTION_MS = 90 * 86_400_000;
/** A webhook POST not answered within this long counts as failed, in ms. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5_000;
/** Tries per alert for the webhook (the first and the retries). */
export const DEFAULT_WEBHOOK_ATTEMPTS = 3;
export const DEFAULT_SYSLOG_PORT = 514;
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

export const AlertsConfigSchema = z.strictObject({
  /** A link not streaming this long is reported lost. */
  linkLostAfter: durationSchema({ minMs: 0 }).default(DEFAULT_LINK_LOST_AFTER_MS),
  /** Fine without interruption this long before any condition is reported resolved. */
  settleAfter: durationSchema({ minMs: 0 }).default(DEFAULT_SETTLE_AFTER_MS),
  /** Every feed's lag threshold unless alerts.feeds says otherwise; also what `wardline agent status` checks. */
  lag: durationSchema({ minMs: 1000 }).default(DEFAULT_LAG_THRESHOLD_MS),
  /** Every feed's backlog-age threshold unless alerts.feeds says otherwise. */
  backlogAge: durationSchema({ minMs: 1000 }).default(DEFAULT_BACKLOG_AGE_THRESHOLD_MS),
  hysteresisPercent: z.number().min(0).max(90).default(DEFAULT_ALERT_HYSTERESIS_PERCENT),
  /** Per-feed thresholds, by feed name. */
  feeds: z.record(name, FeedThresholdsSchema).default({}),
  /** Sources silent longer than this raise an alert, by source name ("http" is the ingest API); unlisted sources never do. */
  quietPeriods: z.record(name, durationSchema({ minMs: 1000 })).default({}),
  /** Alerts older than this are deleted from agent.db. */
  retention: durationSchema({ minMs: 60_000 }).default(DEFAULT_ALERT_RETENTION_MS),
  webhook: WebhookSchema.optional(),
  syslog: SyslogSchema.optional(),
});

export type AlertsConfig = z.output<typeof AlertsConfigSchema>;
export type WebhookConfig = z.output<typeof WebhookSchema>;
export type SyslogConfig = z.output<typeof SyslogSchema>;

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
