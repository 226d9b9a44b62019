// The HL7 rewriter: whatever a rule does to one field, every other field stays
// byte for byte as it came and the message parses again with each value where it
// was; transformed values containing delimiters are escaped.
import { describe, expect, it } from 'vitest';
import { decryptField, pseudonym, type FieldAction, type HospitalKey } from '../../agent/policy/index.js';
import { Hl7RuleSet, parseHl7PolicyPath, type Hl7Rule } from '../../agent/policy/hl7-policy-rules.js';
import { rewriteHl7 } from '../../agent/policy/hl7-rewriter.js';
import { maskGeneric } from '../../agent/policy/masks.js';
import { escapeHl7, Hl7Message, STANDARD_DELIMITERS } from '../../agent/hl7/index.js';
import { Hl7Corpus, type SeededRandom } from '../../simulator/index.js';
import { forAll, stringOf, TRICKY_ALPHABET } from '../support/property.js';

const KEYS = { pseudonym: { id: 'p-test', secret: Buffer.alloc(32, 7) }, encryption: { id: 'e-test', secret: Buffer.alloc(32, 9) } } satisfies Record<string, HospitalKey>;
const lookup = (id: string) => (id === KEYS.encryption.id ? KEYS.encryption : undefined);
const ACTIONS: FieldAction[] = ['keep', 'drop', 'hash', 'encrypt', 'mask', 'mask-generic', 'generalize', 'generalize-year'];

const rulesOf = (fields: Record<string, FieldAction>, fallback: 'keep' | 'drop' = 'keep'): Hl7RuleSet =>
  new Hl7RuleSet(Object.entries(fields).map(([path, action], order): Hl7Rule => ({ path: parseHl7PolicyPath(path), action, order })), fallback);

/** Segments (by CR) as arrays of raw fields, MSH numbered like every other segment here. */
const fieldsOf = (text: string): string[][] => text.split('\r').filter((s) => s !== '').map((s) => s.split('|'));

// ADT, ORU and ORM messages with Chinese identities, escapes in free text, 2.4 and 2.5.
const CORPUS = (() => {
  const corpus = new Hl7Corpus({ seed: 'rewriter', patients: 100 });
  return Array.from({ length: 300 }, () => corpus.next().text);
})();
const corpusMessage = (rng: SeededRandom): string => rng.pick(CORPUS);

describe('rewriteHl7', () => {
  it('changes only the field a rule names: every other field is byte-identical, and the message parses again', () => {
    forAll(
      'rewrite-one-field',
      (rng) => {
        const text = corpusMessage(rng);
        const segments = fieldsOf(text).filter((f) => f[0] !== 'MSH');
        const target = rng.pick(segments);
        return { text, segment: target[0]!, field: rng.int(1, target.length - 1 + 2), action: rng.pick(ACTIONS) };
      },
      ({ text, segment, field, action }) => {
        const out = rewriteHl7(text, rulesOf({ [`${segment}-${field}`]: action }), KEYS);
        expect(() => Hl7Message.parse(out)).not.toThrow();
        const before = fieldsOf(text);
        const after = fieldsOf(out);
        expect(after.map((f) => f[0])).toEqual(before.map((f) => f[0]));
        before.forEach((fields, s) => {
          const width = Math.max(fields.length, after[s]!.length);
          for (let i = 0; i < width; i++) {
            if (fields[0] === segment && i === field) continue;
            expect(after[s]![i] ?? '', `${fields[0]}-${i}`).toBe(fields[i] ?? '');
          }
        });
        if (action === 'keep') expect(out).toBe(text);
        const original = Hl7Message.parse(text).getAll(`${segment}-${field}`);
        const rewritten = Hl7Message.parse(out).getAll(`${segment}-${field}`);
        original.forEach((value, i) => {
          if (value === '') return expect(rewritten[i]).toBe('');
          if (action === 'drop') expect(rewritten[i]).toBe('');
          if (action === 'hash') expect(rewritten[i]).toBe(pseudonym(KEYS.pseudonym, value));
          if (action === 'encrypt') expect(decryptField(rewritten[i]!, lookup)).toBe(value);
        });
      },
    );
  });

  it('escapes what a transform produces, so values with delimiters, escapes and line breaks survive', () => {
    forAll(
      'rewrite-escaping',
      (rng) => {
        const value = stringOf(rng, TRICKY_ALPHABET, 1, 30);
        const text = `MSH|^~\\&|LIS|H|WL|H|20240301||ORU^R01|C${rng.int(1, 1e6)}|P|2.5\rPID|1||123^^^H^MR\rNTE|1|L|${escapeHl7(value, STANDARD_DELIMITERS)}|after\r`;
        return { value, text, action: rng.pick(['encrypt', 'mask-generic', 'keep'] as const) };
      },
      ({ value, text, action }) => {
        const out = rewriteHl7(text, rulesOf({ 'NTE-3': action }), KEYS);
        const message = Hl7Message.parse(out);
        expect(message.get('NTE-4')).toBe('after');
        expect(message.get('PID-3')).toBe('123');
        const got = message.get('NTE-3');
        if (action === 'encrypt') expect(decryptField(got, lookup)).toBe(value);
        if (action === 'mask-generic') expect(got).toBe(maskGeneric(value));
        if (action === 'keep') expect(out).toBe(text);
      },
    );
  });

  it('applies a rule to every repetition and every occurrence unless the path pins one', () => {
    const text = 'MSH|^~\\&|HIS|H|WL|H|20240301||ADT^A08|C1|P|2.5\rPID|1||M1^^^H^MR~110105194912310021^^^CHN^NNCHN||张^伟||||||||13800000001~13900000002\rNK1|1|李^四|||13700000003\rNK1|2|王^五|||13600000004\r';
    const out = Hl7Message.parse(rewriteHl7(text, rulesOf({ 'PID-13': 'mask', 'NK1-5': 'drop', 'NK1[2]-2': 'mask', 'PID-3[2]': 'drop', 'PID-3.1': 'hash' }), KEYS));
    expect(out.get('PID-13[1]')).toBe('138****0001');
    expect(out.get('PID-13[2]')).toBe('139****0002');
    expect(out.getAll('NK1-5')).toEqual(['', '']);
    expect(out.get('NK1[1]-2.2')).toBe('四');
    expect(out.get('NK1[2]-2')).toBe('王');
    expect(out.get('NK1[2]-2.2')).toBe('*');
    // PID-3[2] and PID-3.1 are equally specific for the resident ID: the stricter (drop) wins.
    expect(out.get('PID-3[1].1')).toBe(pseudonym(KEYS.pseudonym, 'M1'));
    expect(out.getRaw('PID-3[2]')).toBe('');
  });

  it('under default drop keeps MSH, removes segments a rule drops, and keeps the sender\'s line endings', () => {
    for (const eol of ['\r', '\r\n', '\n']) {
      const text = ['MSH|^~\\&|HIS|H|WL|H|20240301||ADT^A08|C1|P|2.5', 'PID|1||M1^^^H^MR||张^伟', 'NTE|1|L|secret', 'OBX|1|NM|WBC||5.2'].join(eol) + eol;
      const out = rewriteHl7(text, rulesOf({ NTE: 'drop', 'OBX-5': 'keep', 'OBX-3': 'keep' }, 'drop'), KEYS);
      expect(out).toBe(['MSH|^~\\&|HIS|H|WL|H|20240301||ADT^A08|C1|P|2.5', 'PID', 'OBX|||WBC||5.2'].join(eol) + eol);
    }
  });

  it('decodes \\X..\\ in the message charset before hashing, so an escaped 张 hashes like a plain one', () => {
    const plain = 'MSH|^~\\&|HIS|H|WL|H|20240301||ADT^A08|C1|P|2.5|||||CHN|GB 18030-2000\rPID|1||M1||张^伟\r';
    const escaped = 'MSH|^~\\&|HIS|H|WL|H|20240301||ADT^A08|C1|P|2.5|||||CHN|GB 18030-2000\rPID|1||M1||\\XD5C5\\^伟\r';
    const rules = rulesOf({ 'PID-5.1': 'hash' });
    expect(Hl7Message.parse(rewriteHl7(escaped, rules, KEYS)).get('PID-5.1')).toBe(Hl7Message.parse(rewriteHl7(plain, rules, KEYS)).get('PID-5.1'));
  });

  it('refuses a path that names the delimiters, and a malformed one', () => {
    expect(() => parseHl7PolicyPath('MSH-2')).toThrow(/delimiters/);
    expect(() => parseHl7PolicyPath('PID-0')).toThrow(/positions from 1/);
    expect(() => parseHl7PolicyPath('PID.3')).toThrow(/not an HL7 path/);
  });
});
