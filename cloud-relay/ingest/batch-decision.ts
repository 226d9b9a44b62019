// What the relay does with a batch [firstSeq, lastSeq], given the feed's durable
// high-water mark. Pure: the store calls it inside its write transaction, the
// replication service calls it first to skip decoding work it will not need.
//
// Cases (hw = high-water mark, the last seq stored durably; 0 for a new feed):
//  1. append     firstSeq === hw + 1             store everything, hw = lastSeq
//  2. duplicate  lastSeq <= hw                   a resend of what is held: ack, store nothing
//  3. overlap    firstSeq <= hw < lastSeq        a resend that also carries new seqs: store seq > hw
//  4. gap        firstSeq > hw + 1               something is missing: nack, the agent resends from hw + 1
//  5. invalid    firstSeq < 1, lastSeq < firstSeq, or not a safe integer: the batch is malformed

export type BatchDecision =
  | { kind: 'append' }
  | { kind: 'duplicate' }
  | { kind: 'overlap' }
  | { kind: 'gap'; expectedSeq: number }
  | { kind: 'invalid'; reason: string };

export type BatchDecisionKind = BatchDecision['kind'];

/** Decides how to treat the batch [firstSeq, lastSeq] against the feed's high-water mark `highWater`. */
export function decideBatch(highWater: number, firstSeq: number, lastSeq: number): BatchDecision {
  if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(lastSeq)) {
    return { kind: 'invalid', reason: `batch range [${firstSeq}, ${lastSeq}] is not made of safe integers` };
  }
  if (firstSeq < 1) {
    return { kind: 'invalid', reason: `batch first_seq is ${firstSeq}; sequence numbers start at 1` };
  }
  if (lastSeq < firstSeq) {
    return { kind: 'invalid', reason: `batch last_seq ${lastSeq} is before first_seq ${firstSeq}` };
  }
  if (lastSeq <= highWater) return { kind: 'duplicate' };
  if (firstSeq === highWater + 1) return { kind: 'append' };
  if (firstSeq <= highWater) return { kind: 'overlap' };
  return { kind: 'gap', expectedSeq: highWater + 1 };
}

/** True when the decision stores events and advances the high-water mark. */
export function advancesFeed(decision: BatchDecision): decision is { kind: 'append' } | { kind: 'overlap' } {
  return decision.kind === 'append' || decision.kind === 'overlap';
}
