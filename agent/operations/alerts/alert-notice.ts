// An alert as a person reads it in a chat group or a mailbox: a title that
// says how bad and what, the line, and who is talking and when. One notice
// is rendered as plain text, as markdown (WeCom, DingTalk) or as Feishu's
// rich-text lines; Chinese by default (alerts.<sink>.language).
import type { AlertRecord, AlertRule } from './alert.js';
import { alertMessage } from './alert-text.js';
import type { AlertLanguage } from './alerts-config.js';

/** Who sends the notice: the same pair the webhook body carries. */
export interface NoticeSender {
  hospital: string;
  agentId: string;
}

export interface AlertNotice {
  /** 【警告】推送延迟 · clinical */
  title: string;
  /** The alert's line in the notice's language. */
  message: string;
  /** Label and value, in order: hospital, agent, time, alert id. */
  facts: readonly (readonly [string, string])[];
}

const RULE_NAMES: Record<AlertLanguage, Record<AlertRule, string>> = {
  zh: {
    'link': '云端连接',
    'lag': '推送延迟',
    'backlog-age': '积压过久',
    'disk': '磁盘空间',
    'source-silent': '来源静默',
    'control-id-reused': 'HL7 控制号重复',
    'feed-integrity': '推送位置不一致',
    'feed-proof': '云端副本不完整',
    'capture-stopped': '数据库采集停止',
    'capture-lagging': '数据库采集延迟',
    'capture-position-lost': '数据库采集位置丢失',
    'capture-wal-budget': '数据库日志保留量',
    'imaging-blocked': '影像无法发送',
    'imaging-stalled': '影像发送停滞',
    'inbound-quarantine': '入站事件隔离',
  },
  en: {
    'link': 'Relay link',
    'lag': 'Feed lag',
    'backlog-age': 'Stale backlog',
    'disk': 'Disk',
    'source-silent': 'Source silent',
    'control-id-reused': 'HL7 control id reused',
    'feed-integrity': 'Feed integrity',
    'feed-proof': 'Relay copy integrity',
    'capture-stopped': 'Database capture stopped',
    'capture-lagging': 'Database capture lagging',
    'capture-position-lost': 'Database capture position lost',
    'capture-wal-budget': 'Retained WAL/binlog',
    'imaging-blocked': 'Imaging blocked',
    'imaging-stalled': 'Imaging stalled',
    'inbound-quarantine': 'Inbound events quarantined',
  },
};

const WORDS = {
  zh: { critical: '严重', warning: '警告', resolved: '已恢复', hospital: '医院', agent: '网关', time: '时间', id: '告警编号' },
  en: { critical: 'CRITICAL', warning: 'WARNING', resolved: 'RESOLVED', hospital: 'Hospital', agent: 'Agent', time: 'Time', id: 'Alert id' },
} as const;

export function alertNotice(alert: AlertRecord, sender: NoticeSender, language: AlertLanguage): AlertNotice {
  const w = WORDS[language];
  const how = alert.state === 'resolved' ? w.resolved : alert.severity === 'critical' ? w.critical : w.warning;
  const title = language === 'zh' ? `【${how}】${RULE_NAMES.zh[alert.rule]} · ${alert.subject}` : `[${how}] ${RULE_NAMES.en[alert.rule]}: ${alert.subject}`;
  return {
    title,
    message: alertMessage(alert, language),
    facts: [
      [w.hospital, sender.hospital],
      [w.agent, sender.agentId],
      [w.time, localTime(alert.atMs)],
      [w.id, String(alert.id)],
    ],
  };
}

/** Title, line and facts as plain text. */
export function noticeText(notice: AlertNotice, language: AlertLanguage): string {
  const sep = language === 'zh' ? '：' : ': ';
  return [notice.title, notice.message, ...notice.facts.map(([k, v]) => `${k}${sep}${v}`)].join('\n');
}

/** Title, line and facts as the markdown subset WeCom and DingTalk both render. */
export function noticeMarkdown(notice: AlertNotice, language: AlertLanguage): string {
  const sep = language === 'zh' ? '：' : ': ';
  return [`### ${notice.title}`, '', `> ${notice.message}`, '', ...notice.facts.map(([k, v]) => `**${k}**${sep}${v}  `)].join('\n');
}

/** "2026-12-02 09:58:45 +08:00": the agent's local time, as the people on duty read clocks, with its offset. */
export function localTime(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number) => String(Math.abs(n)).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}

/** `text` cut to at most `maxBytes` of UTF-8 on a character boundary, marked with "…" when cut (the robots refuse longer messages). */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let used = 0;
  const budget = maxBytes - Buffer.byteLength('…', 'utf8');
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (used + size > budget) break;
    out += ch;
    used += size;
  }
  return `${out}…`;
}
