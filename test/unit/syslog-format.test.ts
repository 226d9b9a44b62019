// RFC 5424 messages for alerts, byte for byte.
import { describe, expect, it } from 'vitest';
import { formatSyslogMessage, MAX_SYSLOG_DATAGRAM_BYTES, syslogSeverity, type AlertRecord } from '../../agent/operations/alerts/index.js';

const alert: AlertRecord = {
  id: 42,
  atMs: Date.parse('2026-11-21T08:48:33.120Z'),
  rule: 'lag',
  subject: 'clinical',
  level: 1,
  previousLevel: 0,
  state: 'firing',
  severity: 'warning',
  message: 'feed clinical is 6 min behind (threshold 5 min)',
  value: 372.5,
  threshold: 300,
  details: {},
};
const header = { facility: 16, hostname: 'his-gateway-01', appName: 'wardline', procId: '4711' };

describe('formatSyslogMessage', () => {
  it('writes the RFC 5424 header, structured data and message', () => {
    expect(formatSyslogMessage(alert, header).toString('utf8')).toBe(
      '<132>1 2026-11-21T08:48:33.120Z his-gateway-01 wardline 4711 lag ' +
        '[wardline@32473 id="42" rule="lag" subject="clinical" state="firing" level="1" severity="warning" value="372.5" threshold="300"] ' +
        'feed clinical is 6 min behind (threshold 5 min)',
    );
  });

  it('maps severities: crit and warning while firing, notice once resolved', () => {
    expect(syslogSeverity({ state: 'firing', severity: 'critical' })).toBe(2);
    expect(syslogSeverity({ state: 'firing', severity: 'warning' })).toBe(4);
    expect(syslogSeverity({ state: 'resolved', severity: 'info' })).toBe(5);
    expect(formatSyslogMessage({ ...alert, rule: 'link', severity: 'critical', value: null, threshold: null }, { ...header, facility: 1 }).toString().slice(0, 5)).toBe('<10>1');
  });

  it('escapes ", \\ and ] in parameter values and replaces spaces in header fields', () => {
    const text = formatSyslogMessage({ ...alert, subject: 'a"b\\c]d' }, { ...header, hostname: 'his gateway', appName: '' }).toString();
    expect(text).toContain('subject="a\\"b\\\\c\\]d"');
    expect(text).toContain(' his_gateway - 4711 ');
  });

  it('marks a message beyond ASCII as UTF-8 with a BOM, and cuts an oversized one at a character boundary', () => {
    const chinese = formatSyslogMessage({ ...alert, message: '推送 clinical 落后' }, header);
    expect(chinese.includes(Buffer.from('\uFEFF推送', 'utf8'))).toBe(true);
    const long = formatSyslogMessage({ ...alert, message: '积'.repeat(2000) }, header);
    expect(long.length).toBeLessThanOrEqual(MAX_SYSLOG_DATAGRAM_BYTES);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(long)).not.toThrow();
  });
});
