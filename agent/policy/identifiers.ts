// Recognises the identifiers that must never leave in clear by accident: the
// 18-character resident ID (居民身份证号码, GB 11643-1999) and the 11-digit mainland
// mobile number. The agent has its own copy of the check-character rule (the
// simulator's is test data and the agent must not import it); a unit test holds
// the two to the same answers.
//
// Failure modes handled:
//  1. A digit run that merely looks like an ID (order numbers, barcodes): a
//     resident ID must have a real calendar birth date and a correct ISO 7064
//     MOD 11-2 check character; a mobile must start 13–19 and stand alone (no
//     digit either side), so an 11-digit slice of a longer number is not one.
//  2. Numbers as people type them: a lowercase x check character, mobiles written
//     138-1234-5678 / 138 1234 5678 or with a +86 / 0086 prefix.

export type IdentifierKind = 'residentId' | 'mobile';

export const IDENTIFIER_KINDS: readonly IdentifierKind[] = ['residentId', 'mobile'];

// ISO 7064 MOD 11-2 as GB 11643 applies it: weight i = 2^(17-i) mod 11.
const CHECK_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARACTERS = '10X98765432';

/**
 * The check character (the 18th) of a resident ID.
 * @param first17 the first 17 characters, all digits.
 * @returns '0'–'9' or 'X'.
 * @throws RangeError when `first17` is not 17 digits.
 */
export function residentIdCheckCharacter(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError(`expected 17 digits, got ${first17.length} characters`);
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * CHECK_WEIGHTS[i]!;
  return CHECK_CHARACTERS[sum % 11]!;
}

/**
 * True for an 18-character resident ID: a region code not starting with 0, a real
 * calendar birth date (1800–2199), and a correct check character ('X' or 'x').
 */
export function isValidResidentId(id: string): boolean {
  if (!/^[1-9]\d{16}[\dXx]$/.test(id)) return false;
  if (!isCalendarDate(id.slice(6, 14))) return false;
  return residentIdCheckCharacter(id.slice(0, 17)) === id[17]!.toUpperCase();
}

/** True for an 11-digit mainland mobile number (1, then 3–9, then 9 digits), no separators. */
export function isMainlandMobile(text: string): boolean {
  return /^1[3-9]\d{9}$/.test(text);
}

/** Where an identifier was found in a text; the identifier itself is deliberately not kept. */
export interface IdentifierMatch {
  kind: IdentifierKind;
  /** UTF-16 offset of the first character. */
  index: number;
  /** Length in UTF-16 code units, separators and prefix included. */
  length: number;
}

// One pass for both: group 1 is a resident ID candidate, anything else a mobile.
const CANDIDATE = /(?<!\d)([1-9]\d{16}[\dXx])(?!\d)|(?<![\d+])(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)/g;
/** Every identifier has a run of at least 4 digits (a mobile written 138 1234 5678 has two). */
const DIGIT_RUN = /\d{4}/;

/**
 * Every resident ID and mobile number in a text, in order of position. Cheap when
 * the text holds no run of 11 digits (most clinical text): one regex pass each.
 */
export function findIdentifiers(text: string): IdentifierMatch[] {
  // Most values a policy keeps are codes, short numbers and dates: nothing to look at.
  if (text.length < 11 || !DIGIT_RUN.test(text)) return [];
  const matches: IdentifierMatch[] = [];
  for (const m of text.matchAll(CANDIDATE)) {
    if (m[1] !== undefined) {
      if (isValidResidentId(m[1])) matches.push({ kind: 'residentId', index: m.index, length: m[1].length });
    } else {
      matches.push({ kind: 'mobile', index: m.index, length: m[0].length });
    }
  }
  return matches;
}

function isCalendarDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1800 || y > 2199) return false;
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}
