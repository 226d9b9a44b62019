// Every configured alert sink, built from alerts: in agent.yaml and the secrets
// read at start, in the order status lists them: webhook, syslog, WeCom,
// DingTalk, Feishu, email.
import type { AlertSink } from './alert-sink.js';
import type { AlertSecrets } from './alert-secrets.js';
import { SYSLOG_FACILITIES, type AlertsConfig } from './alerts-config.js';
import { DingtalkSink } from './dingtalk-sink.js';
import { EmailSink } from './email-sink.js';
import { FeishuSink } from './feishu-sink.js';
import { SyslogSink } from './syslog-sink.js';
import { WebhookSink } from './webhook-sink.js';
import { WecomSink } from './wecom-sink.js';

export interface AlertSinksInputs {
  alerts: AlertsConfig;
  secrets: AlertSecrets;
  agent: { hospital: string; agentId: string };
  /** syslog's HOSTNAME unless alerts.syslog.hostname says otherwise. */
  hostname: string;
  pid: number;
}

export function alertSinks({ alerts, secrets, agent, hostname, pid }: AlertSinksInputs): AlertSink[] {
  const sinks: AlertSink[] = [];
  if (alerts.webhook) {
    const w = alerts.webhook;
    sinks.push(new WebhookSink({ url: w.url, timeoutMs: w.timeoutMs, attempts: w.attempts, headers: w.headers, agent }));
  }
  if (alerts.syslog) {
    const s = alerts.syslog;
    const header = { facility: SYSLOG_FACILITIES[s.facility], hostname: s.hostname ?? hostname, appName: s.appName, procId: String(pid) };
    sinks.push(new SyslogSink({ host: s.host, port: s.port, header }));
  }
  if (alerts.wecom) sinks.push(new WecomSink({ ...alerts.wecom, agent }));
  if (alerts.dingtalk) {
    const { secretFile: _file, ...d } = alerts.dingtalk;
    sinks.push(new DingtalkSink({ ...d, ...(secrets.dingtalkSecret ? { secret: secrets.dingtalkSecret } : {}), agent }));
  }
  if (alerts.feishu) {
    const { secretFile: _file, ...f } = alerts.feishu;
    sinks.push(new FeishuSink({ ...f, ...(secrets.feishuSecret ? { secret: secrets.feishuSecret } : {}), agent }));
  }
  if (alerts.email) {
    const e = alerts.email;
    sinks.push(new EmailSink({
      host: e.host,
      port: e.port,
      security: e.security,
      ...(secrets.emailCa ? { ca: secrets.emailCa } : {}),
      ...(e.username && secrets.emailPassword !== undefined ? { auth: { user: e.username, pass: secrets.emailPassword } } : {}),
      from: e.from,
      to: e.to,
      subjectPrefix: e.subjectPrefix,
      language: e.language,
      timeoutMs: e.timeoutMs,
      attempts: e.attempts,
      agent,
    }));
  }
  return sinks;
}
