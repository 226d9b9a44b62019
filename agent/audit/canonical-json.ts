// The canonical encoding the egress ledger hashes: JSON as RFC 8785 (JSON
// Canonicalization Scheme) defines it for the values the ledger holds. Object
// members sorted by their names' UTF-16 code units, no whitespace, strings and
// numbers serialised exactly as ECMAScript's JSON.stringify does (which is what
// JCS specifies). An auditor can reproduce it with any JCS library, or in a few
// lines of Python: json.dumps(obj, sort_keys=True, separators=(',', ':'),
// ensure_ascii=False) gives the same bytes for the ledger's ASCII member names
// and integer numbers.
import { CanonicalJsonError } from './errors.js';

/** A value the ledger can hold and hash. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [member: string]: JsonValue };

/** Details of a ledger record: a JSON object. */
export type JsonObject = { [member: string]: JsonValue };

/**
 * Serialises `value` canonically (RFC 8785). Object members whose value is
 * undefined are left out, as JSON.stringify does; anything else JSON cannot hold
 * throws CanonicalJsonError naming where it is (`details.bytes`).
 */
export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: ${value} has no JSON representation`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item, i) => canonicalJson(item, `${path}[${i}]`)).join(',')}]`;
      const members = Object.keys(value as object)
        .filter((name) => (value as Record<string, unknown>)[name] !== undefined)
        // Default sort compares UTF-16 code units: exactly what RFC 8785 section 3.2.3 asks for.
        .sort()
        .map((name) => `${JSON.stringify(name)}:${canonicalJson((value as Record<string, unknown>)[name], `${path}.${name}`)}`);
      return `{${members.join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${path}: a ${typeof value} has no JSON representation`);
  }
}
