// The line each alert carries: English in the record (logs, webhook, syslog),
// English or Chinese for the robots and email (alerts.<sink>.language). The
// dashboard words alerts itself, in the reader's language, from the record's
// fields. The Chinese words are the dashboard's (client/i18n.js): 推送 feed,
// 中继 relay, 来源 source, 本地数据日志 the journal.
import type { AlertRule } from './alert.js';
import type { AlertLanguage } from './alerts-config.js';

/** "45 s", "12 min", "3.5 h", "2.1 days". */
export function formatAlertDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

/** "45 秒", "12 分钟", "3.5 小时", "2.1 天". */
export function formatAlertDurationZh(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} 秒`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} 分钟`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} 小时`;
  return `${(seconds / 86_400).toFixed(1)} 天`;
}

/** "512 MiB", "1.5 GiB": the WAL budget as max_slot_wal_keep_size is written. */
export function formatAlertBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** The link states in Chinese, as the dashboard says them. */
export const LINK_STATE_ZH: Readonly<Record<string, string>> = {
  streaming: '传输中', connecting: '连接中', backoff: '等待重试', offline: '离线', paused: '已暂停', closed: '网关已停止',
};

/** replication's LinkErrorKind in Chinese, as the dashboard says them. */
export const LINK_ERROR_KIND_ZH: Readonly<Record<string, string>> = {
  refused: '连接被拒绝（中继未在该端口监听）',
  timeout: '连接超时',
  unreachable: '网络不可达',
  dns: '域名无法解析',
  reset: '连接被中断',
  tls: 'TLS 证书或握手失败',
  rejected: '中继拒绝了本网关（密钥或注册）',
  protocol: '协议不兼容',
  'connect-failed': '无法连接中继',
  stopped: '网关停止或人工重连',
  other: '其他错误',
};

export interface AlertTextInput {
  rule: AlertRule;
  subject: string;
  level: number;
  previousLevel: number;
  value: number | null;
  threshold: number | null;
  details: Record<string, string | number | null>;
}

/** The alert's line in `language` (default English, the record's own). */
export function alertMessage(a: AlertTextInput, language: AlertLanguage = 'en'): string {
  return language === 'zh' ? alertMessageZh(a) : alertMessageEn(a);
}

function alertMessageEn(a: AlertTextInput): string {
  const value = a.value ?? 0;
  const threshold = a.threshold ?? 0;
  switch (a.rule) {
    case 'link': {
      if (a.level === 0) return `link to relay ${a.subject} restored`;
      const error = a.details.lastError ? `; last error: ${a.details.lastError}` : '';
      return `link to relay ${a.subject} lost: ${a.details.state ?? 'not streaming'}${error}`;
    }
    case 'lag':
      return a.level === 0
        ? `feed ${a.subject} caught up: lag ${formatAlertDuration(value)} (threshold ${formatAlertDuration(threshold)})`
        : `feed ${a.subject} is ${formatAlertDuration(value)} behind (threshold ${formatAlertDuration(threshold)})`;
    case 'backlog-age':
      return a.level === 0
        ? `feed ${a.subject} backlog fresh again: oldest waiting event ${formatAlertDuration(value)} old`
        : `feed ${a.subject} backlog stale: oldest waiting event ${formatAlertDuration(value)} old (threshold ${formatAlertDuration(threshold)}), ${a.details.backlogEvents ?? 0} events waiting`;
    case 'disk': {
      const state = a.level === 2 ? 'critical' : a.level === 1 ? 'warning' : 'ok';
      const forecast = typeof a.details.forecastFullInSeconds === 'number' ? `; full in ${formatAlertDuration(a.details.forecastFullInSeconds)}` : '';
      const reason = a.details.reason ? `: ${a.details.reason}` : ` (${value.toFixed(1)}% used)`;
      return `disk holding ${a.subject} ${state}${reason}${a.level > 0 ? forecast : ''}`;
    }
    case 'control-id-reused':
      return a.level === 0
        ? `no more reused HL7 control ids from ${a.subject}`
        : `HL7 sender ${a.subject} reused control id ${a.details.controlId ?? '?'} for a message with different content (journaled as seq ${a.details.seq ?? '?'}; ${value} reuse(s) so far): a spoofed message, or a sender whose counter reset`;
    case 'feed-integrity':
      return a.level === 0
        ? `feed ${a.subject}: the relay's mark is consistent with the journal again`
        : `feed ${a.subject} stopped: the relay holds it up to seq ${a.details.relayMarkSeq}, beyond the journal head ${a.details.journalHeadSeq}; its next events would be dropped`;
    case 'feed-proof':
      return a.level === 0
        ? `feed ${a.subject}: the relay's copy is verified complete again`
        : `feed ${a.subject}: a completeness proof found the relay holding ${a.details.incidents ?? 'some'} event(s) otherwise than sent (altered, or never sent by this agent); verified complete through seq ${a.details.verifiedThroughSeq ?? 0}; see the feed's incidents in /v1/status and the egress ledger (WL_A030)`;
    case 'source-silent':
      return a.level === 0
        ? `source ${a.subject} is receiving messages again`
        : `source ${a.subject} silent for ${formatAlertDuration(value)} (quiet period ${formatAlertDuration(threshold)})`;
    case 'capture-stopped':
      return a.level === 0
        ? `database source ${a.subject} capturing again (${a.details.state ?? 'running'})`
        : `database source ${a.subject} stopped: ${a.details.reason ?? 'no reason given'}`;
    case 'capture-lagging':
      return a.level === 0
        ? `database source ${a.subject} caught up: commit-to-journal lag ${formatAlertDuration(value)}`
        : `database source ${a.subject} lagging: the journal is ${formatAlertDuration(value)} behind the database's commits`;
    case 'capture-position-lost':
      return a.level === 0
        ? `database source ${a.subject} streaming again after re-reading the tables`
        : `database source ${a.subject} lost its position (the server no longer holds the changes after it; taking a new snapshot): ${a.details.message ?? ''}`;
    case 'capture-wal-budget': {
      if (a.level === 0) return `database source ${a.subject}: retained WAL/binlog back under ${threshold}% of the budget (${value.toFixed(1)}%)`;
      const eta = typeof a.details.secondsToBudget === 'number' ? `; budget used up in about ${formatAlertDuration(a.details.secondsToBudget)}` : '';
      const sizes = typeof a.details.bytes === 'number' && typeof a.details.budgetBytes === 'number' ? ` (${formatAlertBytes(a.details.bytes)} of ${formatAlertBytes(a.details.budgetBytes)})` : '';
      return `database source ${a.subject}: the server retains ${value.toFixed(1)}% of the WAL/binlog budget for it${sizes}${eta}; past the budget the position is lost and the tables are read again`;
    }
    case 'imaging-blocked':
      return a.level === 0
        ? `imaging feed ${a.subject}: instances ship again`
        : `imaging feed ${a.subject}: instances cannot ship (${a.details.code ?? '?'}): ${a.details.message ?? 'no reason given'}; they stay in the archive`;
    case 'imaging-stalled':
      return a.level === 0
        ? `imaging feed ${a.subject}: chunks are moving again`
        : `imaging feed ${a.subject} stalled: no chunk sent for ${formatAlertDuration(value)} (threshold ${formatAlertDuration(threshold)}) while it may send, ${typeof a.details.bytesWaiting === 'number' ? formatAlertBytes(a.details.bytesWaiting) : '?'} in ${a.details.instancesWaiting ?? '?'} instances waiting`;
    case 'inbound-quarantine':
      return a.level === 0
        ? `inbound channel ${a.subject}: no event quarantined any more`
        : `inbound channel ${a.subject}: ${a.details.quarantined ?? value} event(s) quarantined (oldest ${a.details.oldestId ?? '?'}), each holding its key; replay after a fix or refuse (wardline agent inbound replay|refuse)`;
  }
}

function alertMessageZh(a: AlertTextInput): string {
  const d = formatAlertDurationZh;
  const value = a.value ?? 0;
  const threshold = a.threshold ?? 0;
  switch (a.rule) {
    case 'link': {
      if (a.level === 0) return `与中继 ${a.subject} 的连接已恢复`;
      const state = typeof a.details.state === 'string' ? (LINK_STATE_ZH[a.details.state] ?? a.details.state) : '未在传输';
      const kind = typeof a.details.lastErrorKind === 'string' ? LINK_ERROR_KIND_ZH[a.details.lastErrorKind] : undefined;
      // The English text stays beside the kind: it is what the relay's operator and the logs say.
      const error = a.details.lastError ? `；最近错误：${kind ? `${kind}（${a.details.lastError}）` : a.details.lastError}` : '';
      return `与中继 ${a.subject} 的连接中断：${state}${error}`;
    }
    case 'lag':
      return a.level === 0
        ? `推送 ${a.subject} 已追平：延迟 ${d(value)}（阈值 ${d(threshold)}）`
        : `推送 ${a.subject} 落后 ${d(value)}（阈值 ${d(threshold)}）`;
    case 'backlog-age':
      return a.level === 0
        ? `推送 ${a.subject} 积压已消除：最早待发数据已等待 ${d(value)}`
        : `推送 ${a.subject} 积压过久：最早待发数据已等待 ${d(value)}（阈值 ${d(threshold)}），${a.details.backlogEvents ?? 0} 条待发送`;
    case 'disk': {
      const state = a.level === 2 ? '严重不足' : a.level === 1 ? '警告' : '恢复正常';
      const forecast = typeof a.details.forecastFullInSeconds === 'number' ? `；约 ${d(a.details.forecastFullInSeconds)} 后写满` : '';
      const reason = a.details.reason ? `：${a.details.reason}` : `（已用 ${value.toFixed(1)}%）`;
      return `数据目录 ${a.subject} 所在磁盘${state}${reason}${a.level > 0 ? forecast : ''}`;
    }
    case 'control-id-reused':
      return a.level === 0
        ? `HL7 发送方 ${a.subject} 不再重复使用控制号`
        : `HL7 发送方 ${a.subject} 以控制号 ${a.details.controlId ?? '?'} 发送了内容不同的消息（已作为序号 ${a.details.seq ?? '?'} 记入本地数据日志；累计 ${value} 次）：可能是伪造消息，或发送方计数器被重置`;
    case 'feed-integrity':
      return a.level === 0
        ? `推送 ${a.subject}：中继位置已与本地数据日志一致`
        : `推送 ${a.subject} 已停止：中继记录到序号 ${a.details.relayMarkSeq}，超过本地数据日志末尾 ${a.details.journalHeadSeq}；其后的数据将被丢弃`;
    case 'feed-proof':
      return a.level === 0
        ? `推送 ${a.subject}：云端副本已重新验证完整`
        : `推送 ${a.subject}：完整性证明发现中继保存的 ${a.details.incidents ?? '部分'}条数据与发送时不同（被修改，或并非本机发送）；已验证完整至序号 ${a.details.verifiedThroughSeq ?? 0}；详见 /v1/status 与外发审计日志（WL_A030）`;
    case 'source-silent':
      return a.level === 0
        ? `来源 ${a.subject} 已恢复接收`
        : `来源 ${a.subject} 已静默 ${d(value)}（静默阈值 ${d(threshold)}）`;
    case 'capture-stopped':
      return a.level === 0
        ? `数据库来源 ${a.subject} 已恢复采集`
        : `数据库来源 ${a.subject} 已停止采集：${a.details.reason ?? '未说明原因'}`;
    case 'capture-lagging':
      return a.level === 0
        ? `数据库来源 ${a.subject} 已追平：提交到写入本地数据日志的延迟 ${d(value)}`
        : `数据库来源 ${a.subject} 采集延迟：本地数据日志落后数据库提交 ${d(value)}`;
    case 'capture-position-lost':
      return a.level === 0
        ? `数据库来源 ${a.subject} 重新读取全表后已恢复实时采集`
        : `数据库来源 ${a.subject} 采集位置丢失（数据库已不再保留该位置之后的变更，正在重新读取全表）：${a.details.message ?? ''}`;
    case 'capture-wal-budget': {
      if (a.level === 0) return `数据库来源 ${a.subject}：保留的 WAL/binlog 已回落到预算的 ${threshold}% 以下（${value.toFixed(1)}%）`;
      const eta = typeof a.details.secondsToBudget === 'number' ? `；约 ${d(a.details.secondsToBudget)} 后用尽` : '';
      const sizes = typeof a.details.bytes === 'number' && typeof a.details.budgetBytes === 'number' ? `（${formatAlertBytes(a.details.bytes)} / ${formatAlertBytes(a.details.budgetBytes)}）` : '';
      return `数据库来源 ${a.subject}：数据库为其保留的 WAL/binlog 已达预算的 ${value.toFixed(1)}%${sizes}${eta}；超出预算将丢失采集位置并重新读取全表`;
    }
    case 'imaging-blocked':
      return a.level === 0
        ? `影像推送 ${a.subject}：影像已恢复发送`
        : `影像推送 ${a.subject}：影像无法发送（${a.details.code ?? '?'}）：${a.details.message ?? '未说明原因'}；影像仍保存在本地存档中`;
    case 'imaging-stalled':
      return a.level === 0
        ? `影像推送 ${a.subject}：影像数据块已恢复发送`
        : `影像推送 ${a.subject} 发送停滞：允许发送但 ${d(value)} 未发出任何数据块（阈值 ${d(threshold)}），${typeof a.details.bytesWaiting === 'number' ? formatAlertBytes(a.details.bytesWaiting) : '?'}（${a.details.instancesWaiting ?? '?'} 个实例）待发送`;
    case 'inbound-quarantine':
      return a.level === 0
        ? `入站通道 ${a.subject}：已无隔离的事件`
        : `入站通道 ${a.subject}：${a.details.quarantined ?? value} 个事件被隔离（最早 ${a.details.oldestId ?? '?'}），同一患者的后续事件在等待；修复后重放或拒绝（wardline agent inbound replay|refuse）`;
  }
}
