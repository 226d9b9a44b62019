// pgoutput and the snapshot both hand column values as the server's text output
// (the stream's relation parsers and the snapshot's type parsers are set to keep
// text), and this one mapping turns that text into the body's JSON, so a row
// reads the same whether the snapshot copied it or the stream sent it:
// int2/int4/oid and float as numbers, int8 and numeric as strings (exact),
// bytea as base64 (from the "\x…" hex text), timestamptz as ISO 8601 UTC,
// json/jsonb parsed, booleans as booleans, everything text-like as its text.
import type { CaptureValue } from '../database/index.js';

/** How a type's text becomes a JSON value. */
export type ValueMapping = 'integer' | 'float' | 'exact' | 'boolean' | 'bytea' | 'timestamptz' | 'timestamp' | 'json' | 'text';

/** Built-in type OIDs Wardline maps (pg_type.oid, stable across versions). */
const BUILTIN: Record<number, ValueMapping> = {
  16: 'boolean',
  17: 'bytea',
  18: 'text', // "char"
  19: 'text', // name
  20: 'exact', // int8
  21: 'integer', // int2
  23: 'integer', // int4
  25: 'text',
  26: 'integer', // oid
  114: 'json',
  142: 'text', // xml
  650: 'text', // cidr
  700: 'float',
  701: 'float',
  774: 'text', // macaddr8
  790: 'text', // money (locale-formatted text; exact as text)
  829: 'text', // macaddr
  869: 'text', // inet
  1042: 'text', // bpchar
  1043: 'text', // varchar
  1082: 'text', // date (ISO with DateStyle=ISO)
  1083: 'text', // time
  1114: 'timestamp',
  1184: 'timestamptz',
  1186: 'text', // interval
  1266: 'text', // timetz
  1560: 'text', // bit
  1562: 'text', // varbit
  1700: 'exact', // numeric
  2950: 'text', // uuid
  3802: 'json',
};

/** The mapping of a column whose type is `typeOid` (a domain's base type, an enum → text); undefined = unsupported. */
export function valueMapping(typeOid: number, typtype?: string): ValueMapping | undefined {
  const builtin = BUILTIN[typeOid];
  if (builtin) return builtin;
  if (typtype === 'e') return 'text';
  return undefined;
}

/** The server's text of a value to its JSON form. */
export function mapValue(text: string | null, mapping: ValueMapping): CaptureValue {
  if (text === null) return null;
  switch (mapping) {
    case 'integer':
      return Number(text);
    case 'float': {
      const n = Number(text);
      return Number.isFinite(n) ? n : text; // NaN, Infinity stay text (JSON has no such numbers)
    }
    case 'exact':
      return text;
    case 'boolean':
      return text === 't' || text === 'true';
    case 'bytea':
      return text.startsWith('\\x') ? Buffer.from(text.slice(2), 'hex').toString('base64') : Buffer.from(text, 'latin1').toString('base64');
    case 'timestamptz':
      return isoTimestamp(text, true);
    case 'timestamp':
      return isoTimestamp(text, false);
    case 'json':
      return JSON.parse(text) as CaptureValue;
    case 'text':
      return text;
  }
}

/**
 * "2024-03-01 10:00:00.123456+00" (TimeZone=UTC, DateStyle=ISO) to
 * "2024-03-01T10:00:00.123456Z", keeping the microseconds a JS Date would drop.
 * infinity / -infinity and BC dates stay as the server wrote them.
 */
function isoTimestamp(text: string, withZone: boolean): string {
  const match = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::?\d\d(?::?\d\d)?)?)?$/.exec(text);
  if (!match) return text;
  const [, date, time, zone] = match;
  if (!withZone) return `${date}T${time}`;
  if (zone === undefined || /^[+-]00(:?00)?(:?00)?$/.test(zone)) return `${date}T${time}Z`;
  const offset = zone.length === 3 ? `${zone}:00` : zone.replace(/^([+-]\d\d)(\d\d)$/, '$1:$2');
  return `${date}T${time}${offset}`;
}
