// What a policy can do to a value, and how each action treats a value that has
// structure (an HL7 field with components, e.g. a name FAMILY^GIVEN or an address
// STREET^OTHER^CITY^PROVINCE^ZIP^COUNTRY^TYPE).
//
// A value is components of subcomponents, already unescaped: a JSON string and an
// HL7 leaf are [[text]]. Every action returns the same shape, leaves replaced:
//
//   keep        unchanged
//   drop        every leaf ""
//   hash        every non-empty leaf → its pseudonym (pseudonym.ts)
//   encrypt     every non-empty leaf → an enc:v1 token (field-encryption.ts)
//   mask        a name sent as FAMILY^GIVEN (first component 1–2 Han characters, the
//               second Han too) keeps the family component and stars every other
//               Han leaf; otherwise every leaf is masked by its shape (masks.ts)
//   mask-name / mask-mobile / mask-resident-id / mask-generic
//               the same with that mask forced
//   generalize-year / generalize-month
//               the first leaf as a date (HL7 TS 19850317^D too), every other leaf ""
//   generalize-city
//               a value with two or more components is read as an HL7 XAD: city (3),
//               province (4), country (6) and address type (7) kept, street, other
//               designation, postcode and the rest ""; a single leaf is read as an
//               address written out ("浙江省杭州市西湖区…" → "浙江省杭州市")
//   generalize  generalize-year when the first leaf reads as a date, else generalize-city
//
// HL7's explicit null `""` is not data: every action but drop leaves it as it is.
import { randomBytes } from 'node:crypto';
import { encryptField, IV_BYTES } from './field-encryption.js';
import { generalizeAddress, generalizeDate, looksLikeDate } from './generalize.js';
import { MASK_CHARACTER, maskAuto, maskGeneric, maskMobile, maskName, maskResidentId } from './masks.js';
import { pseudonym, type HospitalKey } from './pseudonym.js';

export const FIELD_ACTIONS = [
  'keep',
  'drop',
  'hash',
  'encrypt',
  'mask',
  'mask-name',
  'mask-mobile',
  'mask-resident-id',
  'mask-generic',
  'generalize',
  'generalize-year',
  'generalize-month',
  'generalize-city',
] as const;
export type FieldAction = (typeof FIELD_ACTIONS)[number];

/** What may happen to an event's key: it cannot be dropped (vendors group by it). */
export const KEY_ACTIONS = ['keep', 'hash', 'encrypt'] as const;
export type KeyAction = (typeof KEY_ACTIONS)[number];

/** What happens to a field no rule names. */
export const DEFAULT_ACTIONS = ['keep', 'drop'] as const;
export type DefaultAction = (typeof DEFAULT_ACTIONS)[number];

/**
 * How much of a value an action lets out, most protective highest. When two rules
 * are equally specific for one value, the stricter one wins.
 */
export function strictness(action: FieldAction): number {
  if (action === 'drop') return 6;
  if (action === 'hash') return 5;
  if (action === 'encrypt') return 4;
  if (action.startsWith('mask')) return 3;
  if (action.startsWith('generalize')) return 2;
  return 1;
}

/** Whether the action needs the pseudonym or the encryption key. */
export function keyKindFor(action: FieldAction | KeyAction): 'pseudonym' | 'encryption' | undefined {
  return action === 'hash' ? 'pseudonym' : action === 'encrypt' ? 'encryption' : undefined;
}

/** Components of subcomponents, unescaped. */
export type StructuredValue = string[][];

/** The keys the actions use; `iv` is for tests (a fixed IV under one key breaks GCM). */
export interface ActionKeys {
  pseudonym?: HospitalKey;
  encryption?: HospitalKey;
  iv?: () => Buffer;
}

const HL7_NULL = '""';
const HAN = /^\p{Script=Han}+$/u;

/** Applies an action to one value; see the table at the top of this file. */
export function transformValue(action: FieldAction, value: StructuredValue, keys: ActionKeys): StructuredValue {
  switch (action) {
    case 'keep':
      return value;
    case 'drop':
      return value.map((c) => c.map(() => ''));
    case 'hash':
    case 'encrypt':
    case 'mask-mobile':
    case 'mask-resident-id':
    case 'mask-generic':
      return mapLeaves(value, (leaf) => transformText(action, leaf, keys));
    case 'mask':
    case 'mask-name':
      return maskValue(action, value);
    case 'generalize-year':
    case 'generalize-month':
      return firstLeafOnly(value, (leaf) => generalizeDate(leaf, action === 'generalize-year' ? 'year' : 'month'));
    case 'generalize-city':
      return generalizeCity(value);
    case 'generalize': {
      const first = firstLeaf(value);
      return first !== undefined && looksLikeDate(first) ? transformValue('generalize-year', value, keys) : generalizeCity(value);
    }
  }
}

/** Applies an action to a single text (a JSON string, an event key). */
export function transformText(action: FieldAction | KeyAction, text: string, keys: ActionKeys): string {
  if (text === '' || (text === HL7_NULL && action !== 'drop')) return text;
  switch (action) {
    case 'keep':
      return text;
    case 'drop':
      return '';
    case 'hash':
      return pseudonym(need(keys.pseudonym, 'pseudonym'), text);
    case 'encrypt':
      return encryptField(need(keys.encryption, 'encryption'), text, keys.iv?.() ?? randomBytes(IV_BYTES));
    case 'mask':
      return maskAuto(text);
    case 'mask-name':
      return maskName(text);
    case 'mask-mobile':
      return maskMobile(text);
    case 'mask-resident-id':
      return maskResidentId(text);
    case 'mask-generic':
      return maskGeneric(text);
    default:
      return transformValue(action, [[text]], keys)[0]![0]!;
  }
}

function need(key: HospitalKey | undefined, kind: string): HospitalKey {
  // compileFeedPolicy refuses a policy whose keys are missing; this is the backstop.
  if (!key) throw new Error(`no ${kind} key for a policy that needs one`);
  return key;
}

function mapLeaves(value: StructuredValue, fn: (leaf: string) => string): StructuredValue {
  return value.map((c) => c.map((leaf) => (leaf === '' || leaf === HL7_NULL ? leaf : fn(leaf))));
}

function firstLeaf(value: StructuredValue): string | undefined {
  for (const c of value) for (const leaf of c) if (leaf !== '' && leaf !== HL7_NULL) return leaf;
  return undefined;
}

function firstLeafOnly(value: StructuredValue, fn: (leaf: string) => string): StructuredValue {
  let done = false;
  return value.map((c) =>
    c.map((leaf) => {
      if (leaf === HL7_NULL) return leaf;
      if (done || leaf === '') return '';
      done = true;
      return fn(leaf);
    }),
  );
}

function maskValue(action: 'mask' | 'mask-name', value: StructuredValue): StructuredValue {
  const family = value[0]?.[0] ?? '';
  const given = value[1]?.[0] ?? '';
  const familyLength = Array.from(family).length;
  const splitName = familyLength >= 1 && familyLength <= 2 && HAN.test(family) && HAN.test(given);
  return value.map((c, ci) =>
    c.map((leaf, si) => {
      if (leaf === '' || leaf === HL7_NULL) return leaf;
      if (splitName) {
        if (ci === 0 && si === 0) return leaf;
        if (HAN.test(leaf)) return MASK_CHARACTER.repeat(Array.from(leaf).length);
      }
      return action === 'mask-name' ? maskName(leaf) : maskAuto(leaf);
    }),
  );
}

/** XAD components kept by generalize-city (1-based): city, state/province, country, address type. */
const XAD_KEPT_COMPONENTS = new Set([3, 4, 6, 7]);

function generalizeCity(value: StructuredValue): StructuredValue {
  const nonEmpty = value.filter((c) => c.some((leaf) => leaf !== '' && leaf !== HL7_NULL)).length;
  if (nonEmpty >= 2) {
    return value.map((c, ci) => c.map((leaf) => (leaf === HL7_NULL || XAD_KEPT_COMPONENTS.has(ci + 1) ? leaf : '')));
  }
  return firstLeafOnly(value, generalizeAddress);
}
