// Where one chunk of a retention sweep cuts the feed (pure, both backends):
// given the feed's oldest events kept, in seq order, and its body bytes, how
// many of them the rule no longer keeps. What is removed is always a prefix, so
// every event kept stays above the retention floor.
import type { RetentionRule } from './feed-store.js';

/** One of the oldest events kept, as the sweep reads it (no body). */
export interface RetentionCandidate {
  seq: number;
  receivedAtMs: number;
  bytes: number;
}

/** The prefix of `candidates` to remove: its length, body bytes and last seq (undefined when nothing goes). */
export interface RetentionCut {
  events: number;
  bytes: number;
  lastSeq: number | undefined;
}

/**
 * By age, through the last candidate received before rule.receivedBeforeMs (a
 * repair stored later in between goes with its neighbours: it is as old in the
 * feed); by size, the oldest while `feedBytes` less what goes is above
 * rule.maxBytes. The cut is the further of the two.
 */
export function retentionCut(candidates: readonly RetentionCandidate[], rule: RetentionRule, feedBytes: number): RetentionCut {
  let cut = -1;
  if (rule.receivedBeforeMs !== undefined) {
    for (let i = candidates.length - 1; i >= 0; i--) {
      if (candidates[i]!.receivedAtMs < rule.receivedBeforeMs) {
        cut = i;
        break;
      }
    }
  }
  if (rule.maxBytes !== undefined) {
    let remaining = feedBytes;
    for (let i = 0; i < candidates.length && remaining > rule.maxBytes; i++) {
      remaining -= candidates[i]!.bytes;
      cut = Math.max(cut, i);
    }
  }
  let bytes = 0;
  for (let i = 0; i <= cut; i++) bytes += candidates[i]!.bytes;
  return { events: cut + 1, bytes, lastSeq: cut >= 0 ? candidates[cut]!.seq : undefined };
}

/** Throws RangeError naming the field when `rule` holds something other than a finite number >= 0. */
export function checkRetentionRule(rule: RetentionRule): void {
  for (const field of ['receivedBeforeMs', 'maxBytes'] as const) {
    const value = rule[field];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new RangeError(`retention rule ${field}: expected a finite number >= 0, got ${String(value)}`);
  }
}
