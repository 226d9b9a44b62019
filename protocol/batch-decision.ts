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
//  6. beyond-head  an append or overlap whose lastSeq is past the ceiling (batchCeiling):
//                the range claims journal positions neither its events nor the
//                agent's journal head justify. Storing it would move hw ahead of
//                the agent, and every later batch would be acked as a duplicate
//                and dropped; refused, nothing stored. A duplicate or a gap is
//                answered as before: neither moves hw.

export type BatchDecision =
  | { kind: 'append' }
  | { kind: 'duplicate' }
  | { kind: 'overlap' }
  | { kind: 'gap'; expectedSeq: number }
  | { kind: 'invalid'; reason: string }
  | { kind: 'beyond-head'; ceilingSeq: number };

export type BatchDecisionKind = BatchDecision['kind'];

/**
 * Journal positions a batch from an agent that does not announce its journal
 * head (Batch.journal_head_seq 0: an agent older than that field) may run past
 * its last event or the feed's mark. Such an agent reads at most
 * replication.batchMaxScan positions per batch (default 20 000); this is 50
 * times that, so an old agent keeps working, while a range claiming 2^53 − 1
 * is refused.
 */
export const LEGACY_MAX_RANGE_SEQS = 1_000_000;

export interface BatchCeilingInputs {
  /** The feed's high-water mark before the batch. */
  highWater: number;
  /** The seq of the batch's last event; 0 for a batch without events. */
  lastEventSeq: number;
  /** Batch.journal_head_seq: the agent's journal head when it built the batch; 0 when not announced. */
  announcedHeadSeq: number;
}

/**
 * The highest lastSeq the relay can justify for a batch: what its own events
 * reach, or the journal head the agent announced with it. Without an
 * announcement, LEGACY_MAX_RANGE_SEQS past the events or the mark.
 */
export function batchCeiling(inputs: BatchCeilingInputs): number {
  if (inputs.announcedHeadSeq > 0) return Math.max(inputs.lastEventSeq, inputs.announcedHeadSeq);
  return Math.max(inputs.lastEventSeq, inputs.highWater) + LEGACY_MAX_RANGE_SEQS;
}

/**
 * Decides how to treat the batch [firstSeq, lastSeq] against the feed's high-water
 * mark `highWater`. `ceilingSeq` (batchCeiling) is the highest lastSeq that may move
 * the mark; omitted before the batch is decoded, when its events are not known yet.
 */
export function decideBatch(highWater: number, firstSeq: number, lastSeq: number, ceilingSeq = Number.POSITIVE_INFINITY): BatchDecision {
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
  if (firstSeq > highWater + 1) return { kind: 'gap', expectedSeq: highWater + 1 };
  if (lastSeq > ceilingSeq) return { kind: 'beyond-head', ceilingSeq };
  if (firstSeq === highWater + 1) return { kind: 'append' };
  return { kind: 'overlap' };
}

/** True when the decision stores events and advances the high-water mark. */
export function advancesFeed(decision: BatchDecision): decision is { kind: 'append' } | { kind: 'overlap' } {
  return decision.kind === 'append' || decision.kind === 'overlap';
}
