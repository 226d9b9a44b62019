// The dashboard's two dictionaries: every key in both, every placeholder in
// both, and none of the words that misled hospital staff (出院 reads as
// "discharged from hospital": the egress ledger is 数据外发台账).
import { beforeAll, describe, expect, it, vi } from 'vitest';

type Dictionary = Record<string, string>;
let en: Dictionary;
let zh: Dictionary;
let i18n: { t(key: string, vars?: object): string; word(prefix: string, code: string): string; linkErrorText(link: object): string; setLanguage(lang: string): void };

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
});
