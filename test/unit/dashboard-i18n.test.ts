// The dashboard's two dictionaries: every key in both, every placeholder in
// both, and none of the words that misled hospital staff (出院 reads as
// "discharged from hospital": the egress ledger is 数据外发台账).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { LINK_ERROR_KINDS } from '../../agent/replication/index.js';
import { REJECTION_KINDS } from '../../agent/sources/index.js';

type Dictionary = Record<string, string>;
let en: Dictionary;
let zh: Dictionary;
let i18n: {
  t(key: string, vars?: object): string;
  word(prefix: string, code: string): string;
  linkErrorText(link: object): string;
  kindText(prefix: string, kind: string | null | undefined, detail: string | null | undefined): string;
  reasonText(reason: string | null | undefined): string;
  setLanguage(lang: string): void;
};

beforeAll(async () => {
  // The module reads the page's address, storage and browser language when it loads.
  vi.stubGlobal('location', { search: '?lang=en' });
  vi.stubGlobal('localStorage', { getItem: () => null, setItem: () => undefined });
  vi.stubGlobal('navigator', { language: 'en' });
  vi.stubGlobal('document', { documentElement: {} });
  const module = await import('../../agent/operations/dashboard/client/i18n.js');
  ({ en, zh } = module.DICTIONARIES as { en: Dictionary; zh: Dictionary });
  i18n = module;
});

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('dashboard dictionaries', () => {
  it('have the same keys in English and Chinese', () => {
    expect(Object.keys(zh).filter((k) => !(k in en))).toEqual([]);
    expect(Object.keys(en).filter((k) => !(k in zh))).toEqual([]);
  });

  it('fill the same placeholders in both languages', () => {
    const differing = Object.keys(en).filter((k) => k in zh && JSON.stringify(placeholders(en[k]!)) !== JSON.stringify(placeholders(zh[k]!)));
    expect(differing).toEqual([]);
  });

  it('never say 出院 (discharge) and call the ledger and the journal by their names', () => {
    expect(Object.entries(zh).filter(([, v]) => v.includes('出院'))).toEqual([]);
    expect(zh['section.ledger']).toBe('数据外发台账');
    // 日志 alone reads as a log file; the journal is the agent's 本地数据日志.
    expect(Object.entries(zh).filter(([, v]) => /(?<!本地数据)日志/.test(v))).toEqual([]);
  });

  it('words the codes the agent sends and shows an unknown code as it is', () => {
    i18n.setLanguage('zh');
    expect(i18n.word('class', 'clinical')).toBe('临床');
    expect(i18n.word('class', 'imaging-nightly')).toBe('imaging-nightly');
    expect(i18n.word('ledger.type', 'policy-change')).toBe('策略变更');
    expect(i18n.linkErrorText({ lastError: 'connect ECONNREFUSED 10.0.0.7:7443', lastErrorKind: 'refused' })).toBe('连接被拒绝（中继未在该端口监听）：connect ECONNREFUSED 10.0.0.7:7443');
    expect(i18n.linkErrorText({ lastError: null, lastErrorKind: null })).toBe('无');
    i18n.setLanguage('en');
    expect(i18n.linkErrorText({ lastError: 'x', lastErrorKind: 'not-a-kind' })).toBe('x');
  });

  it('has words for every code the agent sends beside a reason', () => {
    const kinds = [
      ...REJECTION_KINDS.map((k) => `rejection.${k}`),
      ...['trimmed', 'integrity', 'relay', 'operator', 'timetable'].map((k) => `blocked.${k}`),
      ...['used-percent', 'free-bytes'].map((k) => `diskReason.${k}`),
      ...LINK_ERROR_KINDS.map((k) => `linkError.${k}`),
    ];
    expect(kinds.filter((k) => !(k in en))).toEqual([]);
  });

  it('shows a code in words then the English text, and the text alone for an unknown code', () => {
    i18n.setLanguage('zh');
    expect(i18n.kindText('rejection', 'required-field-missing', 'no value at PID-3')).toBe('缺少必填字段：no value at PID-3');
    expect(i18n.kindText('blocked', 'timetable', 'held back during night')).toBe('带宽时间表：held back during night');
    expect(i18n.kindText('diskReason', 'free-bytes', '9.00 GB free (threshold 10.00 GB)')).toBe('剩余空间低于阈值：9.00 GB free (threshold 10.00 GB)');
    expect(i18n.kindText('adminError', 'unknown_feed', null)).toBe('没有这个数据外发通道');
    expect(i18n.kindText('rejection', 'not-a-kind', 'as sent')).toBe('as sent');
    expect(i18n.kindText('rejection', null, null)).toBe('');
    i18n.setLanguage('en');
  });

  it("translates the agent's default reasons and leaves an operator's own words as written", () => {
    i18n.setLanguage('zh');
    expect(i18n.reasonText('paused by the operator')).toBe('操作员已暂停');
    expect(i18n.reasonText('revoked by the operator')).toBe('操作员已撤销');
    expect(i18n.reasonText('re-enabled by the operator; waiting for the relay to confirm')).toBe('操作员已重新启用；等待中继确认');
    expect(i18n.reasonText('LIS maintenance until 06:00')).toBe('LIS maintenance until 06:00');
    expect(i18n.reasonText(null)).toBe('');
    i18n.setLanguage('en');
    expect(i18n.reasonText('paused by the operator')).toBe('paused by the operator');
  });

  it('knows the default reasons in the very words the agent writes them', () => {
    const agentSource = ['agent/control/feed-control.ts', 'agent/replication/replicator.ts'].map((f) => readFileSync(f, 'utf8')).join('\n');
    const phrases = Object.entries(en).filter(([k]) => k.startsWith('operatorReason.'));
    expect(phrases.length).toBeGreaterThan(0);
    expect(phrases.filter(([, v]) => !agentSource.includes(`'${v}'`))).toEqual([]);
  });
});
