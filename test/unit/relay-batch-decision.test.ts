import { describe, expect, it } from 'vitest';
import { decideBatch, type BatchDecision } from '../../cloud-relay/ingest/batch-decision.js';

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
