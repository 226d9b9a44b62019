import { describe, expect, it } from 'vitest';
import { batchCeiling, decideBatch, LEGACY_MAX_RANGE_SEQS, type BatchDecision } from '../../protocol/batch-decision.js';

describe('decideBatch', () => {
  it.each<[string, number, number, number, BatchDecision['kind'], number?]>([
    // name, highWater, firstSeq, lastSeq, kind, expectedSeq
    ['first batch of a new feed', 0, 1, 10, 'append'],
    ['single-seq first batch', 0, 1, 1, 'append'],
    ['next batch', 10, 11, 20, 'append'],
    ['next single seq', 10, 11, 11, 'append'],
    ['exact resend', 10, 1, 10, 'duplicate'],
    ['resend of an older part', 10, 3, 7, 'duplicate'],
    ['resend ending at the mark', 10, 10, 10, 'duplicate'],
    ['resend that reaches past the mark', 10, 5, 15, 'overlap'],
    ['resend starting at the mark', 10, 10, 11, 'overlap'],
    ['overlap from the very start', 10, 1, 11, 'overlap'],
    ['gap after the mark', 10, 15, 20, 'gap', 11],
    ['gap on a new feed', 0, 2, 5, 'gap', 1],
    ['gap of one', 10, 12, 12, 'gap', 11],
  ])('%s (hw %i, [%i, %i]) -> %s', (_name, highWater, firstSeq, lastSeq, kind, expectedSeq) => {
    const decision = decideBatch(highWater, firstSeq, lastSeq);
    expect(decision.kind).toBe(kind);
    if (decision.kind === 'gap') expect(decision.expectedSeq).toBe(expectedSeq);
  });

  it.each([
    ['first_seq 0', 0, 0, 5, 'start at 1'],
    ['negative first_seq', 0, -3, 5, 'start at 1'],
    ['last before first', 10, 12, 11, 'before first_seq'],
    ['last before first, both held', 10, 5, 4, 'before first_seq'],
    ['non-integer', 0, 1.5, 3, 'safe integers'],
    ['beyond 2^53', 0, 1, 2 ** 53, 'safe integers'],
    ['NaN', 0, Number.NaN, 3, 'safe integers'],
  ])('%s is invalid', (_name, highWater, firstSeq, lastSeq, reason) => {
    const decision = decideBatch(highWater, firstSeq, lastSeq);
    expect(decision.kind).toBe('invalid');
    if (decision.kind === 'invalid') expect(decision.reason).toContain(reason);
  });

  it('agrees with a seq-by-seq model for every small range', () => {
    // Model: the relay holds 1..hw; a batch is new if it holds any seq > hw, and
    // can be taken only if nothing between hw and firstSeq is missing.
    for (let highWater = 0; highWater <= 6; highWater++) {
      for (let firstSeq = -1; firstSeq <= 9; firstSeq++) {
        for (let lastSeq = -1; lastSeq <= 9; lastSeq++) {
          const decision = decideBatch(highWater, firstSeq, lastSeq);
          const label = `hw ${highWater} [${firstSeq}, ${lastSeq}]`;
          if (firstSeq < 1 || lastSeq < firstSeq) {
            expect(decision.kind, label).toBe('invalid');
            continue;
          }
          const seqs = Array.from({ length: lastSeq - firstSeq + 1 }, (_, i) => firstSeq + i);
          const newSeqs = seqs.filter((s) => s > highWater);
          const expected = newSeqs.length === 0 ? 'duplicate' : firstSeq > highWater + 1 ? 'gap' : newSeqs.length === seqs.length ? 'append' : 'overlap';
          expect(decision.kind, label).toBe(expected);
          if (decision.kind === 'gap') expect(decision.expectedSeq, label).toBe(highWater + 1);
        }
      }
    }
  });
});

describe('a range nothing justifies (beyond-head)', () => {
  const MAX = Number.MAX_SAFE_INTEGER; // 2^53 - 1

  it.each<[string, number, number, number, number, BatchDecision['kind']]>([
    // name, highWater, firstSeq, lastSeq, ceiling, kind
    ['empty batch claiming 2^53 - 1', 10, 11, MAX, 10, 'beyond-head'],
    ['append ending at the ceiling', 10, 11, 20, 20, 'append'],
    ['append one past the ceiling', 10, 11, 21, 20, 'beyond-head'],
    ['overlap past the ceiling', 10, 5, 30, 20, 'beyond-head'],
    ['overlap within the ceiling', 10, 5, 20, 20, 'overlap'],
    // Neither moves the mark: answered as before whatever they claim.
    ['duplicate below an inflated claim', 50, 1, 40, 20, 'duplicate'],
    ['gap past the ceiling', 10, 15, MAX, 20, 'gap'],
  ])('%s (hw %i, [%i, %i], ceiling %i) -> %s', (_name, highWater, firstSeq, lastSeq, ceiling, kind) => {
    const decision = decideBatch(highWater, firstSeq, lastSeq, ceiling);
    expect(decision.kind).toBe(kind);
    if (decision.kind === 'beyond-head') expect(decision.ceilingSeq).toBe(ceiling);
  });

  it('without a ceiling (before decoding) decides as it always did', () => {
    expect(decideBatch(10, 11, MAX).kind).toBe('append');
  });

  it('the ceiling is the announced journal head or the last event, whichever is further', () => {
    expect(batchCeiling({ highWater: 10, lastEventSeq: 0, announcedHeadSeq: 500 })).toBe(500);
    expect(batchCeiling({ highWater: 10, lastEventSeq: 700, announcedHeadSeq: 500 })).toBe(700);
    // An empty batch up to the agent's head: the usual "nothing of this feed yet" range.
    expect(decideBatch(10, 11, 500, batchCeiling({ highWater: 10, lastEventSeq: 0, announcedHeadSeq: 500 })).kind).toBe('append');
    expect(decideBatch(10, 11, 501, batchCeiling({ highWater: 10, lastEventSeq: 0, announcedHeadSeq: 500 })).kind).toBe('beyond-head');
  });

  it('an agent that announces no head (older than Batch.journal_head_seq) may run LEGACY_MAX_RANGE_SEQS past its events or the mark', () => {
    const ceiling = batchCeiling({ highWater: 10, lastEventSeq: 0, announcedHeadSeq: 0 });
    expect(ceiling).toBe(10 + LEGACY_MAX_RANGE_SEQS);
    expect(batchCeiling({ highWater: 10, lastEventSeq: 40, announcedHeadSeq: 0 })).toBe(40 + LEGACY_MAX_RANGE_SEQS);
    // The default scan (20 000 positions) of an old agent still goes through; 2^53 - 1 does not.
    expect(decideBatch(10, 11, 20_010, ceiling).kind).toBe('append');
    expect(decideBatch(10, 11, MAX, ceiling).kind).toBe('beyond-head');
  });
});
