// The pure parts of the PostgreSQL source: LSN text ↔ bigint, the text → JSON
// value mapping, the saved position's JSON, schema versions, and the snapshot
// visibility rule the resumed snapshot relies on.
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../../agent/sources/postgres/postgres-lsn.js';
import { mapValue, valueMapping } from '../../agent/sources/postgres/postgres-value.js';
import { decodePosition, encodePosition } from '../../agent/sources/postgres/postgres-position.js';
import { SchemaVersions } from '../../agent/sources/postgres/postgres-schema-versions.js';
import { snapshotSees } from '../../agent/sources/postgres/postgres-resume-filter.js';

describe('postgres LSNs', () => {
  it('round-trips and orders', () => {
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(parseLsn('0/16B3748') + 1n).toBe(parseLsn('0/16B3749'));
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(formatLsn(parseLsn('0/FFFFFFFF') + 1n)).toBe('1/0');
    expect(() => parseLsn('nope')).toThrow(/not a PostgreSQL LSN/);
  });
});

describe('postgres values', () => {
  it('maps the server text of each type family', () => {
    expect(mapValue('9007199254740993', valueMapping(20)!)).toBe('9007199254740993');
    expect(mapValue('12.50', valueMapping(1700)!)).toBe('12.50');
    expect(mapValue('42', valueMapping(23)!)).toBe(42);
    expect(mapValue('1.5', valueMapping(701)!)).toBe(1.5);
    expect(mapValue('NaN', valueMapping(701)!)).toBe('NaN');
    expect(mapValue('t', valueMapping(16)!)).toBe(true);
    expect(mapValue('f', valueMapping(16)!)).toBe(false);
    expect(mapValue('\\x00ff', valueMapping(17)!)).toBe('AP8=');
    expect(mapValue('2024-03-01 08:00:00.123456+00', valueMapping(1184)!)).toBe('2024-03-01T08:00:00.123456Z');
    expect(mapValue('2024-03-01 08:00:00+05:30', valueMapping(1184)!)).toBe('2024-03-01T08:00:00+05:30');
    expect(mapValue('infinity', valueMapping(1184)!)).toBe('infinity');
    expect(mapValue('2024-03-01 08:00:00', valueMapping(1114)!)).toBe('2024-03-01T08:00:00');
    expect(mapValue('{"a":[1,"2"]}', valueMapping(3802)!)).toEqual({ a: [1, '2'] });
    expect(mapValue(null, 'integer')).toBeNull();
    expect(valueMapping(600)).toBeUndefined(); // point
    expect(valueMapping(99_999, 'e')).toBe('text'); // an enum
  });
});

describe('postgres position', () => {
  it('round-trips the LSN, schema versions, snapshot cursor and resumed ranges', () => {
    const position = {
      lsn: parseLsn('0/16B3748'),
      schemas: { 'public.t': [2, 'abc'] as [number, string] },
      snapshot: { table: 1, after: ['42'], rows: 1000 },
      resumes: [{ table: 1, after: ['10'], snapshot: '100:105:101,103', until: '0/16B0000' }],
    };
    const text = encodePosition(position);
    expect(JSON.parse(text).lsn).toBe('0/16B3748');
    expect(decodePosition(text)).toEqual(position);
    expect(decodePosition('0/10')).toEqual({ lsn: 16n, schemas: {} });
    expect(decodePosition(undefined)).toBeUndefined();
  });
});

describe('postgres schema versions', () => {
  it('bumps only when the captured columns differ', () => {
    const versions = new SchemaVersions({});
    const a = [{ name: 'id', typeOid: 23 }];
    expect(versions.observe('public.t', a)).toBe(1);
    expect(versions.observe('public.t', a)).toBe(1);
    expect(versions.observe('public.t', [...a, { name: 'x', typeOid: 25 }])).toBe(2);
    const restored = new SchemaVersions(versions.toJSON());
    expect(restored.observe('public.t', a)).toBe(3);
  });
});

describe('snapshot visibility', () => {
  const s = { xmin: 100n, xmax: 105n, running: new Set([101n, 103n]) };
  it('sees what committed before it and not what was running or began after', () => {
    expect(snapshotSees(s, 99)).toBe(true);
    expect(snapshotSees(s, 100)).toBe(true);
    expect(snapshotSees(s, 101)).toBe(false);
    expect(snapshotSees(s, 102)).toBe(true);
    expect(snapshotSees(s, 103)).toBe(false);
    expect(snapshotSees(s, 105)).toBe(false);
    expect(snapshotSees(s, 200)).toBe(false);
  });
  it('widens a 32-bit xid into the snapshot epoch', () => {
    const wrapped = { xmin: (1n << 32n) + 5n, xmax: (1n << 32n) + 10n, running: new Set<bigint>() };
    expect(snapshotSees(wrapped, 7)).toBe(true);
    expect(snapshotSees(wrapped, 0xfffffff0)).toBe(true); // the previous epoch
    expect(snapshotSees(wrapped, 12)).toBe(false);
  });
});
