// Masks: what a person reading the feed may see of an identifier, in the shapes
// Chinese forms and receipts already use. Every mask keeps the length (one "*" per
// hidden character), so a masked value still lines up where it is printed.
//
//   resident ID  110105********002X   first 6 (region) and last 4 kept
//   mobile       138****1234          first 3 (carrier) and last 4 kept
//   name         张* / 张** / 欧阳**   family name kept, every given-name character starred;
//                                      a compound family name (欧阳, 司马, …) is kept
//                                      whole when the name has 3 or more characters
//   generic      13*****71            the first and last quarter kept (at most 4 each),
//                                      everything shorter than 4 characters starred
//
// `maskAuto` picks by shape: resident-ID shape (17 digits and a digit or X, no
// check-character test: a mistyped ID is still an ID), mobile shape, a Chinese name
// (2–10 Han characters, "·" allowed), else generic.

export const MASK_CHARACTER = '*';

/** Compound family names (复姓) common enough to be kept whole. */
export const COMPOUND_FAMILY_NAMES: ReadonlySet<string> = new Set([
  '欧阳', '司马', '诸葛', '上官', '东方', '皇甫', '尉迟', '公孙', '慕容', '令狐', '夏侯', '长孙',
  '宇文', '司徒', '司空', '澹台', '端木', '独孤', '南宫', '西门', '轩辕', '呼延', '万俟', '闻人',
]);

export type MaskKind = 'residentId' | 'mobile' | 'name' | 'generic';

const RESIDENT_ID_SHAPE = /^\d{17}[\dXx]$/;
const MOBILE_SHAPE = /^1[3-9]\d{9}$/;
const CHINESE_NAME_SHAPE = /^[\p{Script=Han}·•]{2,10}$/u;

/** The mask `maskAuto` would choose for a value. */
export function maskKindOf(value: string): MaskKind {
  if (RESIDENT_ID_SHAPE.test(value)) return 'residentId';
  if (MOBILE_SHAPE.test(value)) return 'mobile';
  if (CHINESE_NAME_SHAPE.test(value)) return 'name';
  return 'generic';
}

/** Masks by shape; see the table at the top of this file. "" stays "". */
export function maskAuto(value: string): string {
  return mask(value, maskKindOf(value));
}

export function mask(value: string, kind: MaskKind): string {
  switch (kind) {
    case 'residentId':
      return keepEnds(value, 6, 4);
    case 'mobile':
      return keepEnds(value, 3, 4);
    case 'name':
      return maskName(value);
    case 'generic':
      return maskGeneric(value);
  }
}

/** `110105********002X`; a value of another length is masked generically. */
export function maskResidentId(value: string): string {
  return Array.from(value).length === 18 ? keepEnds(value, 6, 4) : maskGeneric(value);
}

/** `138****1234`; a value of another length is masked generically. */
export function maskMobile(value: string): string {
  return Array.from(value).length === 11 ? keepEnds(value, 3, 4) : maskGeneric(value);
}

/**
 * The family name kept, every other character starred: 张伟 → 张*, 张伟明 → 张**,
 * 欧阳娜娜 → 欧阳**. A one-character value is starred (a lone given name is not a
 * family name). "·" in minority names stays, so the shape of the name is kept.
 */
export function maskName(value: string): string {
  const chars = Array.from(value);
  if (chars.length <= 1) return MASK_CHARACTER.repeat(chars.length);
  const familyLength = chars.length >= 3 && COMPOUND_FAMILY_NAMES.has(chars[0]! + chars[1]!) ? 2 : 1;
  return chars.map((ch, i) => (i < familyLength || ch === '·' || ch === '•' ? ch : MASK_CHARACTER)).join('');
}

/** The first and last quarter of the characters kept (at most 4 each); under 4 characters all starred. */
export function maskGeneric(value: string): string {
  const n = Array.from(value).length;
  const keep = Math.min(4, Math.floor(n / 4));
  return keepEnds(value, keep, keep);
}

/** Keeps `head` and `tail` characters (code points) and stars the rest. */
function keepEnds(value: string, head: number, tail: number): string {
  const chars = Array.from(value);
  if (head + tail >= chars.length) return MASK_CHARACTER.repeat(chars.length);
  return chars.map((ch, i) => (i < head || i >= chars.length - tail ? ch : MASK_CHARACTER)).join('');
}
