// The egress ledger's chain logic, pure: appending, the canonical encoding an
// auditor reproduces, and tampering (modify, delete, reorder, cut the tail) —
// each found and named by the verifier.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  chainNext,
  fromLedgerLine,
  GENESIS_HASH,
  GENESIS_HEAD,
  recordHash,
  toLedgerLine,
  verifyChain,
  type LedgerRecord,
  type RelayLedgerHead,
} from '../../agent/audit/index.js';

const T0 = Date.parse('2026-11-21T08:00:00.000Z');

/** A chain of `count` batch records, one a second. */
function chain(count: number): LedgerRecord[] {
  const records: LedgerRecord[] = [];
  let head = GENESIS_HEAD;
  for (let i = 0; i < count; i++) {
    const record = chainNext(
      head,
      { type: 'batch', feed: i % 2 ? 'clinical' : 'billing', details: { relay: 'cloud', firstSeq: i * 10 + 1, lastSeq: i * 10 + 10, events: 10, bytes: 900 + i, payloadSha256: 'ab'.repeat(32), policyVersion: 3 } },
      T0 + i * 1000,
    );
    records.push(record);
    head = record;
  }
  return records;
}

const relayHead = (record: LedgerRecord, feed = 'clinical'): RelayLedgerHead => ({ relay: 'cloud', feed, index: record.index, hash: record.hash, receivedAtMs: record.atMs });

describe('egress ledger chain', () => {
  it('chains records from the genesis: index from 1, each prevHash the previous hash', () => {
    const records = chain(3);
    expect(records.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(records[0]!.prevHash).toBe(GENESIS_HASH);
    expect(records[1]!.prevHash).toBe(records[0]!.hash);
    expect(records[2]!.prevHash).toBe(records[1]!.hash);
    expect(verifyChain(records)).toMatchObject({ ok: true, records: 3, firstIndex: 1, head: { index: 3, hash: records[2]!.hash }, problems: [] });
  });

  it('hashes a canonical encoding an auditor can reproduce without Wardline', () => {
    const [record] = chain(1);
    const line = toLedgerLine(record!);
    // Member order in the source object must not matter.
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 'é', y: -2 } })).toBe('{"a":[true,null,"x"],"b":1,"c":{"y":-2,"z":"é"}}');
    // What README documents: drop "hash", sort members, no whitespace, SHA-256 of the UTF-8.
    const { hash, ...hashed } = line;
    const sorted = (value: unknown): unknown =>
      value && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sorted(v)]))
        : value;
    expect(createHash('sha256').update(JSON.stringify(sorted(hashed))).digest('hex')).toBe(hash);
    expect(Object.keys(line).sort()).toEqual(['at', 'details', 'feed', 'hash', 'index', 'prevHash', 'type', 'v']);
    expect(line.at).toBe('2026-11-21T08:00:00.000Z');
    expect(fromLedgerLine(JSON.parse(JSON.stringify(line)))).toEqual(record);
  });

  it('names a modified record', () => {
    const records = chain(6);
    records[3] = { ...records[3]!, details: { ...records[3]!.details, events: 9 } };
    const result = verifyChain(records);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([{ index: 4, kind: 'modified', message: expect.stringContaining('record 4 (batch of feed clinical) was modified') }]);
  });

  it('names a record modified and re-hashed (the next record no longer links to it)', () => {
    const records = chain(6);
    const forged = { ...records[2]!, details: { ...records[2]!.details, bytes: 1 } };
    records[2] = { ...forged, hash: recordHash(forged) };
    const result = verifyChain(records);
    expect(result.problems).toEqual([{ index: 3, kind: 'replaced', message: "record 3 was modified and re-hashed, or replaced: record 4's prevHash is not its hash" }]);
  });

  it('names a deleted record, a deleted range and deleted first records', () => {
    const records = chain(10);
    expect(verifyChain(records.filter((r) => r.index !== 5)).problems).toEqual([
      { index: 5, kind: 'missing', message: 'record 5 is missing (deleted): record 4 is followed by record 6' },
    ]);
    expect(verifyChain(records.filter((r) => r.index < 3 || r.index > 6)).problems).toEqual([
      { index: 3, kind: 'missing', message: 'records 3..6 are missing (deleted): record 2 is followed by record 7' },
    ]);
    expect(verifyChain(records.slice(2)).problems).toEqual([{ index: 1, kind: 'missing', message: 'records 1..2 are missing (deleted): the ledger starts at record 3' }]);
  });

  it('names two reordered records, as stored lines (each keeps its index)', () => {
    const records = chain(6);
    [records[2], records[3]] = [records[3]!, records[2]!];
    const result = verifyChain(records);
    expect(result.problems).toEqual([{ index: 3, kind: 'out-of-order', message: 'record 3 appears after record 4: records were reordered' }]);
  });

  it('names two reordered records, as database rows (the position is the index)', () => {
    const records = chain(6);
    // Swap the contents of rows 3 and 4, leaving each row's index where it was.
    const swapped = [...records];
    swapped[2] = { ...records[3]!, index: 3 };
    swapped[3] = { ...records[2]!, index: 4 };
    const result = verifyChain(swapped);
    expect(result.problems).toEqual([
      { index: 3, kind: 'out-of-order', message: 'record 3 holds what was written as record 4: records were reordered' },
      { index: 4, kind: 'out-of-order', message: 'record 4 holds what was written as record 3: records were reordered' },
    ]);
  });

  it('cannot see a cut-off tail alone, but names it against the head the relay received', () => {
    const records = chain(10);
    const cut = records.slice(0, 7);
    expect(verifyChain(cut).ok).toBe(true);
    const result = verifyChain(cut, { relayHeads: [relayHead(records[9]!), relayHead(records[6]!, 'billing')] });
    expect(result.ok).toBe(false);
    expect(result.relayHeadsChecked).toBe(1);
    expect(result.problems).toEqual([
      {
        index: 10,
        kind: 'truncated',
        message: expect.stringMatching(/^record 10 is missing: relay cloud holds ledger head 10 \([0-9a-f]{16}…\) from feed clinical received 2026-11-21T08:00:09.000Z, but the local ledger ends at record 7: its tail was cut off$/),
      },
    ]);
  });

  it('names a tail cut off and rewritten (a consistent chain that disagrees with the relay)', () => {
    const records = chain(10);
    let head = { index: 7, hash: records[6]!.hash };
    const rewritten = records.slice(0, 7);
    for (let i = 8; i <= 10; i++) {
      const record = chainNext(head, { type: 'batch', feed: 'clinical', details: { innocuous: true } }, T0 + i * 1000);
      rewritten.push(record);
      head = record;
    }
    expect(verifyChain(rewritten).ok).toBe(true);
    expect(verifyChain(rewritten, { relayHeads: [relayHead(records[9]!)] }).problems).toEqual([
      { index: 10, kind: 'relay-mismatch', message: expect.stringContaining('record 10 differs from the head relay cloud received with feed clinical') },
    ]);
  });

  it('verifies a partial chain from an anchor', () => {
    const records = chain(10);
    expect(verifyChain(records.slice(4), { anchor: { index: 4, hash: records[3]!.hash } }).ok).toBe(true);
    expect(verifyChain(records.slice(4), { anchor: { index: 4, hash: records[2]!.hash } }).problems[0]).toMatchObject({ index: 5, kind: 'replaced' });
  });

  it('names records reordered at any distance as reordered, not modified: rows swapped 40 and 400 apart, and a cycle of three', () => {
    const records = chain(900);
    const rowsOf = (moves: [number, number][]): LedgerRecord[] => {
      // Each [to, from]: row `to` gets the contents written as record `from`; every row keeps its index.
      const rows = [...records];
      for (const [to, from] of moves) rows[to - 1] = { ...records[from - 1]!, index: to };
      return rows;
    };
    const reordered = (at: number, writtenAs: number) => ({ index: at, kind: 'out-of-order', message: `record ${at} holds what was written as record ${writtenAs}: records were reordered` });
    for (const distance of [40, 400]) {
      const result = verifyChain(rowsOf([[100, 100 + distance], [100 + distance, 100]]));
      expect(result.problems).toEqual([reordered(100, 100 + distance), reordered(100 + distance, 100)]);
    }
    expect(verifyChain(rowsOf([[10, 500], [500, 850], [850, 10]])).problems).toEqual([reordered(10, 500), reordered(500, 850), reordered(850, 10)]);
    // A modified record among them is still named modified.
    const tampered = rowsOf([[100, 500], [500, 100]]);
    tampered[299] = { ...tampered[299]!, details: { ...tampered[299]!.details, events: 9 } };
    expect(verifyChain(tampered).problems.map((p) => `${p.index} ${p.kind}`)).toEqual(['100 out-of-order', '300 modified', '500 out-of-order']);
  });

  it('names a line that is not a record, and keeps counting problems past the cap', () => {
    const records = chain(4);
    const result = verifyChain([records[0]!, { unreadable: true, index: 2, position: 2, reason: 'details are not JSON' }, records[2]!, records[3]!]);
    expect(result.problems).toEqual([{ index: 2, kind: 'malformed', message: 'record 2 cannot be read: details are not JSON' }]);

    const many = chain(30).map((r) => ({ ...r, details: { tampered: true } }));
    const capped = verifyChain(many, { maxProblems: 5 });
    expect(capped.problems).toHaveLength(5);
    expect(capped.moreProblems).toBe(25);
  });
});
