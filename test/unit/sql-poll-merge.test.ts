// Merging a table's page with its tombstone page: version order, deletes before
// upserts at one version, nothing past a full page's last version, and where each
// reader goes on from.
import { describe, expect, it } from 'vitest';
import { mergePages, type ReaderPage } from '../../agent/sources/sql-poll/poll-merge.js';
import type { PolledRow } from '../../agent/sources/sql-poll/poll-dialect.js';

const row = (version: number, key: number): PolledRow => ({ version: String(version), key: [key], row: { id: key } });
const page = (rows: PolledRow[], full = false, from: ReaderPage['from'] = null): ReaderPage => ({ rows, full, from });
const order = (merged: ReturnType<typeof mergePages>['merged']) => merged.map((m) => `${m.reader === 'rows' ? 'u' : 'd'}${m.row.key[0]}@${m.row.version}`);

describe('mergePages', () => {
  it('orders both pages by version, deletes first at one version', () => {
    const merged = mergePages('number', '10', page([row(3, 1), row(5, 2), row(8, 1)]), page([row(5, 2), row(6, 1)]));
    expect(order(merged.merged)).toEqual(['u1@3', 'd2@5', 'u2@5', 'd1@6', 'u1@8']);
    expect(merged.rows).toEqual({ version: '10', key: null });
    expect(merged.tombstones).toEqual({ version: '10', key: null });
  });

  it('takes nothing past the last version of a full page, from either reader', () => {
    const merged = mergePages('number', '100', page([row(3, 1), row(4, 2)], true), page([row(2, 9), row(4, 7), row(9, 8)]));
    expect(order(merged.merged)).toEqual(['d9@2', 'u1@3', 'd7@4', 'u2@4']);
    expect(merged.rows).toEqual({ version: '4', key: [2] });
    expect(merged.tombstones).toEqual({ version: '4', key: [7] });
  });

  it('keeps a reader where it was when it took nothing', () => {
    const from = { version: '1', key: null };
    const merged = mergePages('number', '100', page([row(2, 1), row(3, 2)], true), page([row(50, 3)], false, from));
    expect(merged.tombstones).toEqual(from);
  });

  it('never moves a cursor back to a watermark below where the read began', () => {
    const from = { version: '20', key: null };
    expect(mergePages('number', '15', page([], false, from), null).rows).toEqual(from);
  });

  it('compares versions as big integers and timestamps as fixed-width text', () => {
    const big = mergePages('number', '18446744073709551615', page([row(1, 1)]), page([{ version: '9007199254740993', key: [2], row: {} }]));
    expect(big.merged.map((m) => m.row.version)).toEqual(['1', '9007199254740993']);
    const ts = mergePages('timestamp', '2024-01-05T09:00:00.000000', page([{ version: '2024-01-05T08:00:00.000001', key: [1], row: {} }]), page([{ version: '2024-01-05T08:00:00.000000', key: [1], row: {} }]));
    expect(ts.merged.map((m) => m.reader)).toEqual(['tombstones', 'rows']);
  });
});
