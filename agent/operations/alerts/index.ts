// Alerts: one per change of a watched condition, kept, shown and delivered.
export { ALERT_RULES, alertKey, type AlertRecord, type AlertRule, type AlertSeverity, type AlertState } from './alert.js';
export { DebouncedLevel, type DebounceTimes, type LevelChange } from './debounced-level.js';
export { AlertEvaluator, CAPTURE_WAL_BUDGET_PERCENT, isPositionLostError, retainedBudgetPercent, type CaptureAlertInput, type ImagingAlertInput, controlIdReuseSubject, type ControlIdReuseInput, backlogAgeThresholdSeconds, feedLagExceeded, lagThresholdSeconds, type AlertEvaluatorOptions, type AlertInputs } from './alert-evaluator.js';
export { alertMessage, formatAlertBytes, formatAlertDuration, formatAlertDurationZh } from './alert-text.js';
export {
  AlertsConfigSchema,
  unknownAlertNames,
  SYSLOG_FACILITIES,
  DEFAULT_ALERT_HYSTERESIS_PERCENT,
  DEFAULT_ALERT_RETENTION_MS,
  DEFAULT_BACKLOG_AGE_THRESHOLD_MS,
  DEFAULT_LAG_THRESHOLD_MS,
  DEFAULT_LINK_LOST_AFTER_MS,
  DEFAULT_SETTLE_AFTER_MS,
  type AlertsConfig,
  type SyslogConfig,
  type WebhookConfig,
  type WecomConfig,
  type DingtalkConfig,
  type FeishuConfig,
  type EmailConfig,
  type AlertLanguage,
} from './alerts-config.js';
export { loadAlertSecrets, type AlertSecrets } from './alert-secrets.js';
export { AlertStore } from './alert-store.js';
export type { AlertSink } from './alert-sink.js';
export { AlertDelivery, MAX_QUEUED_ALERTS, type AlertDeliveryStatus } from './alert-delivery.js';
export { WebhookSink, type WebhookBody, type WebhookSinkOptions } from './webhook-sink.js';
export { SyslogSink, type SyslogSinkOptions } from './syslog-sink.js';
export { WecomSink, wecomBody, type WecomBody, type WecomSinkOptions } from './wecom-sink.js';
export { DingtalkSink, dingtalkBody, dingtalkSign, dingtalkSignedUrl, type DingtalkBody, type DingtalkSinkOptions } from './dingtalk-sink.js';
export { FeishuSink, feishuBody, feishuSign, type FeishuBody, type FeishuSinkOptions } from './feishu-sink.js';
export { EmailSink, emailMessage, type EmailSinkOptions } from './email-sink.js';
export { alertNotice, noticeMarkdown, noticeText, type AlertNotice, type NoticeSender } from './alert-notice.js';
export { alertSinks, type AlertSinksInputs } from './alert-sinks.js';
export { formatSyslogMessage, syslogSeverity, MAX_SYSLOG_DATAGRAM_BYTES, SYSLOG_SD_ID, type SyslogHeader } from './syslog-format.js';
export { AlertMonitor, DEFAULT_RECENT_ALERTS, DEFAULT_STATUS_RECENT_ALERTS, type AlertMonitorOptions, type AlertsStatus } from './alert-monitor.js';
