// The polling position's pure parts: the remembered (key, version) pairs are pruned
// to the re-read bound and capped, and the lag rule's sequence watermark trails by
// its window.
import { describe, expect, it } from 'vitest';
import { emptyTablePosition, parsePollPosition, pruneSeen, serializePollPosition } from '../../agent/sources/sql-poll/poll-position.js';
import { SequenceWatermark } from '../../agent/sources/sql-poll/sequence-watermark.js';

describe('pruneSeen', () => {
  it('forgets pairs at or below the re-read bound, then the oldest beyond the cap', () => {
    const position = emptyTablePosition(false);
    position.rows = { version: '20', key: null };
    position.seen = [
      ['r:[1]', '5'],
      ['r:[2]', '10'],
      ['r:[3]', '11'],
      ['r:[4]', '12'],
    ];
    expect(pruneSeen(position, 'number', '10')).toBe(0);
    expect(position.seen.map(([k]) => k)).toEqual(['r:[3]', 'r:[4]']);
    expect(pruneSeen(position, 'number', null, 1)).toBe(1);
    expect(position.seen).toEqual([['r:[4]', '12']]);
  });

  // The cause of pairs journaled twice: a re-read's full page (or a watermark that
  // stepped back) leaves the cursor below the bound, the bound moves on, and the next
  // read from the cursor meets pairs already forgotten.
  it('keeps the pairs the reader\'s cursor has still to pass, even below the re-read bound', () => {
    const position = emptyTablePosition(false);
    position.rows = { version: '10', key: [4] };
    position.tombstones = { version: '30', key: null };
    position.seen = [
      ['r:[3]', '9'],
      ['r:[3]', '10'],
      ['r:[5]', '10'],
      ['r:[6]', '15'],
      ['d:[7]', '15'],
      ['d:[8]', '30'],
      ['d:[9]', '41'],
    ];
    expect(pruneSeen(position, 'number', '40')).toBe(0);
    // rows: after (10, [4]) the rest of version 10 is ahead; tombstones: after 30, and above the bound 40.
    expect(position.seen).toEqual([
      ['r:[3]', '10'],
      ['r:[5]', '10'],
      ['r:[6]', '15'],
      ['d:[9]', '41'],
    ]);
  });

  it('keeps every pair while there is no bound yet or the reader has not begun', () => {
    const position = emptyTablePosition(true);
    position.seen = [['r:[1]', '5']];
    expect(pruneSeen(position, 'number', '10')).toBe(0);
    position.rows = { version: '20', key: null };
    expect(pruneSeen(position, 'number', null)).toBe(0);
    expect(position.seen).toEqual([['r:[1]', '5']]);
  });

  it('round-trips the position as JSON and refuses one that is not a polling position', () => {
    const position = { tables: { patients: emptyTablePosition(true) } };
    expect(parsePollPosition(serializePollPosition(position))).toEqual(position);
    expect(parsePollPosition(undefined)).toEqual({ tables: {} });
    expect(() => parsePollPosition('"0/16B6C50"')).toThrow(/not a sql-poll position/);
  });
});

describe('SequenceWatermark', () => {
  it('uses the highest version seen a window ago, and re-reads from the one seen two windows ago', () => {
    const mark = new SequenceWatermark(1_000);
    expect(mark.sample(0, '10')).toEqual({ upTo: null, overlapFrom: null, head: '10' });
    expect(mark.sample(500, '20').upTo).toBeNull();
    expect(mark.sample(1_000, '30')).toEqual({ upTo: '10', overlapFrom: null, head: '30' });
    expect(mark.sample(1_600, '40')).toEqual({ upTo: '20', overlapFrom: null, head: '40' });
    expect(mark.sample(2_100, '50')).toEqual({ upTo: '30', overlapFrom: '10', head: '50' });
  });

  it('with no window reads up to the newest version', () => {
    expect(new SequenceWatermark(0).sample(0, '7').upTo).toBe('7');
  });
});
