// The JSON rewriter and its paths: the deepest rule wins, wildcards and quoted
// names work, dropped members and elements go, a row no rule changes is returned
// as the very same text.
import { describe, expect, it } from 'vitest';
import { pseudonym, type FieldAction } from '../../agent/policy/index.js';
import { JsonRuleSet, parseJsonPolicyPath, type JsonRule } from '../../agent/policy/json-policy-rules.js';
import { rewriteJson } from '../../agent/policy/json-rewriter.js';

const KEYS = { pseudonym: { id: 'p-1', secret: Buffer.alloc(32, 5) } };
const rules = (fields: Record<string, FieldAction>, fallback: 'keep' | 'drop' = 'drop', key: FieldAction = 'hash') =>
  new JsonRuleSet(Object.entries(fields).map(([path, action], order): JsonRule => ({ path: parseJsonPolicyPath(path), action, order })), fallback, key);
const shape = (row: unknown, fields: Record<string, FieldAction>, fallback: 'keep' | 'drop' = 'drop', key: FieldAction = 'hash') =>
  JSON.parse(rewriteJson(JSON.stringify(row), rules(fields, fallback, key), KEYS)) as unknown;

describe('rewriteJson', () => {
  const row = { key: 'K1', patient: { name: '张伟', ids: [{ type: 'MR', value: 'M1' }, { type: 'NN', value: '11010519491231002X' }] }, contact: { home: '13800000001', work: '13900000002' }, 'bed no': '12', age: 74, vip: null };

  it('lets the rule naming more of the position win, and the stricter one on a tie', () => {
    expect(
      shape(row, { '$.patient': 'keep', '$.patient.ids[*].value': 'hash', '$.patient.ids[1]': 'drop', '$.contact.*': 'mask', "$['bed no']": 'keep', '$.age': 'generalize', '$.vip': 'keep' }),
    ).toEqual({
      key: pseudonym(KEYS.pseudonym, 'K1'),
      patient: { name: '张伟', ids: [{ type: 'MR', value: pseudonym(KEYS.pseudonym, 'M1') }] },
      contact: { home: '138****0001', work: '139****0002' },
      'bed no': '12',
      age: '',
      vip: null,
    });
  });

  it('treats the row\'s key member as the event key unless a rule names it', () => {
    expect(shape(row, {}, 'drop', 'keep')).toEqual({ key: 'K1' });
    expect(shape(row, { '$.key': 'drop' })).toEqual({});
  });

  it('returns the same text when nothing changes, and hashes numbers as text', () => {
    const text = '{"key":"K1", "n": 1.50}';
    expect(rewriteJson(text, rules({}, 'keep', 'keep'), KEYS)).toBe(text);
    expect(JSON.parse(rewriteJson(text, rules({ '$.n': 'hash' }, 'keep', 'keep'), KEYS))).toEqual({ key: 'K1', n: pseudonym(KEYS.pseudonym, '1.5') });
  });

  it('refuses a path it cannot read, saying where', () => {
    expect(() => parseJsonPolicyPath('patient.name')).toThrow(/start with "\$"/);
    expect(() => parseJsonPolicyPath('$.a[x]')).toThrow(/cannot read "\[x\]"/);
  });
});
