// The capture fault tests judge the agent with these checks; here they are shown
// to catch what they look for: a repeated version, a lost one, a transaction seen in
// part or interleaved, and a copy that differs from the table.
import { describe, expect, it } from 'vitest';
import { auditChanges, compareDigests, digestRows, replayChanges, type CapturedChange } from '../support/his-table-audit.js';

let seq = 0;
const up = (key: number, v: number, batch = 0, size = 1, headers: Record<string, string> = {}): CapturedChange => ({
  seq: ++seq,
  key: String(key),
  op: 'upsert',
  row: { id: key, v, batch: String(batch), batch_size: size, note: 'n' },
  headers,
});
const del = (key: number): CapturedChange => ({ seq: ++seq, key: String(key), op: 'delete', row: { id: key }, headers: {} });

describe('auditChanges', () => {
  it('passes a clean history: versions in order, a delete and a new insert, a whole batch', () => {
    const audit = auditChanges([up(1, 1), up(1, 2), del(1), up(1, 1), up(2, 1, 7, 2), up(3, 1, 7, 2)]);
    expect(audit).toMatchObject({ duplicates: [], gaps: [], partialTransactions: [], wholeTransactions: 1 });
  });

  it('names a duplicate, a gap, and a transaction in part or interleaved', () => {
    expect(auditChanges([up(1, 1), up(1, 2), up(1, 2)]).duplicates).toHaveLength(1);
    expect(auditChanges([up(1, 1), up(1, 3)]).gaps).toHaveLength(1);
    expect(auditChanges([up(5, 2)]).gaps).toHaveLength(1); // first seen past v1, outside a snapshot
    expect(auditChanges([up(1, 1, 9, 3), up(2, 1, 9, 3)]).partialTransactions).toHaveLength(1);
    expect(auditChanges([up(1, 1, 9, 2), up(7, 1), up(2, 1, 9, 2)]).partialTransactions).toHaveLength(1);
  });

  it('starts a key over at a snapshot row', () => {
    expect(auditChanges([up(1, 1), up(1, 5, 0, 1, { snapshot: 'true' }), up(1, 6)]).gaps).toEqual([]);
  });
});

describe('digests', () => {
  it('compare equal for the same rows and name what differs', () => {
    const table = digestRows([['1', { id: 1, v: 2, batch: '3', batch_size: 1, note: 'n' }]]);
    const copy = digestRows(replayChanges([up(1, 1, 3), up(1, 2, 3)]));
    expect(copy.digest).toBe(table.digest);
    const stale = digestRows(replayChanges([up(1, 1, 3), up(2, 1)]));
    expect(compareDigests(table, stale)).toEqual({ missing: [], extra: ['2'], different: ['1'] });
  });
});
