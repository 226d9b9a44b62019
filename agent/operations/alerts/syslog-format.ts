// RFC 5424 syslog messages for alerts. Pure: no sockets (syslog-notifier.ts
// sends them over UDP, RFC 5426).
//
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [wardline@32473 …] MSG
//
// The structured-data ID uses 32473, the private enterprise number RFC 5612
// reserves for documentation and examples, since Wardline has none of its own.
import type { AlertRecord } from './alert.js';

/** SD-ID of the structured data every alert carries. */
export const SYSLOG_SD_ID = 'wardline@32473';
/** RFC 5426 receivers should accept datagrams this large; longer messages are cut to fit, in bytes. */
export const MAX_SYSLOG_DATAGRAM_BYTES = 2048;

/** RFC 5424 severities. */
const SEVERITY = { critical: 2, warning: 4, notice: 5 } as const;
const NILVALUE = '-';
const UTF8_BOM = '\uFEFF';

export interface SyslogHeader {
  /** Facility code, 0–23 (16 = local0). */
  facility: number;
  hostname: string;
  appName: string;
  /** The agent's process id. */
  procId: string;
}

/** The RFC 5424 severity of an alert: crit or warning while firing, notice once resolved. */
export function syslogSeverity(alert: Pick<AlertRecord, 'state' | 'severity'>): number {
  if (alert.state === 'resolved') return SEVERITY.notice;
  return alert.severity === 'critical' ? SEVERITY.critical : SEVERITY.warning;
}

/** One alert as an RFC 5424 message, at most MAX_SYSLOG_DATAGRAM_BYTES long. */
export function formatSyslogMessage(alert: AlertRecord, header: SyslogHeader): Buffer {
  const pri = header.facility * 8 + syslogSeverity(alert);
  const head = [
    `<${pri}>1`,
    new Date(alert.atMs).toISOString(),
    headerField(header.hostname, 255),
    headerField(header.appName, 48),
    headerField(header.procId, 128),
    headerField(alert.rule, 32),
  ].join(' ');
  const params: [string, string | number][] = [
    ['id', alert.id],
    ['rule', alert.rule],
    ['subject', alert.subject],
    ['state', alert.state],
    ['level', alert.level],
    ['severity', alert.severity],
  ];
  if (alert.value !== null) params.push(['value', alert.value]);
  if (alert.threshold !== null) params.push(['threshold', alert.threshold]);
  const sd = `[${SYSLOG_SD_ID} ${params.map(([name, value]) => `${name}="${escapeParamValue(String(value))}"`).join(' ')}]`;
  const prefix = Buffer.from(`${head} ${sd} `, 'utf8');
  // MSG-UTF8 (with BOM) only when there is something beyond ASCII to declare.
  const text = /^[\x20-\x7e]*$/.test(alert.message) ? alert.message : UTF8_BOM + alert.message;
  return Buffer.concat([prefix, truncateUtf8(text, MAX_SYSLOG_DATAGRAM_BYTES - prefix.length)]);
}

/** A header field: printable US-ASCII without spaces, at most `max` characters; NILVALUE when empty. */
function headerField(value: string, max: number): string {
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return cleaned === '' ? NILVALUE : cleaned;
}

/** RFC 5424 §6.3.3: '"', '\' and ']' in a PARAM-VALUE are escaped with a backslash. */
function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** The UTF-8 bytes of `text`, cut at a character boundary to at most `maxBytes`. */
function truncateUtf8(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= Math.max(0, maxBytes)) return bytes;
  let end = Math.max(0, maxBytes);
  // Back off continuation bytes (10xxxxxx) so a character is never split.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
