// Turns a relay's link state changes into the segments of the dashboard's
// timeline. Pure.
//
// What it handles:
//  1. The window opens mid-state: the last change before the window starts the
//     first segment at the window's edge.
//  2. Nothing known for the start of the window (a new install): that stretch is
//     `unknown`.
//  3. The agent was stopped: its `closed` change begins a `closed` segment that
//     lasts until the next start. An agent killed outright writes no `closed`, so
//     its last state runs on until the restart — the timeline cannot know better.
//  4. A link that flaps every second: neighbouring changes into the same state are
//     merged, and segments too short to draw still count, so nothing is hidden.
import type { LinkHistoryEntry } from './link-history.js';

/** A timeline covers this much, in ms. */
export const TIMELINE_SPAN_MS = 24 * 60 * 60 * 1000;

export interface TimelineSegment {
  /** streaming, connecting, backoff, offline, paused, closed (agent stopped), or unknown. */
  state: string;
  /** ms since the epoch. */
  fromMs: number;
  /** ms since the epoch; the last segment ends at the time asked for. */
  toMs: number;
}

/**
 * The segments covering [fromMs, toMs] from changes ordered oldest first (as
 * LinkHistory.since returns them, the one before the window included).
 */
export function linkTimeline(entries: readonly Pick<LinkHistoryEntry, 'atMs' | 'state'>[], fromMs: number, toMs: number): TimelineSegment[] {
  const segments: TimelineSegment[] = [];
  let state = 'unknown';
  let startMs = fromMs;
  const push = (endMs: number): void => {
    if (endMs <= startMs) return;
    const last = segments[segments.length - 1];
    if (last && last.state === state && last.toMs === startMs) last.toMs = endMs;
    else segments.push({ state, fromMs: startMs, toMs: endMs });
  };
  for (const entry of entries) {
    if (entry.atMs >= toMs) break;
    if (entry.atMs <= fromMs) {
      state = entry.state;
      continue;
    }
    push(entry.atMs);
    state = entry.state;
    startMs = entry.atMs;
  }
  push(toMs);
  return segments;
}

/** Milliseconds per state within the segments, for the timeline's legend ("streaming 98.2 %"). */
export function timeInState(segments: readonly TimelineSegment[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const s of segments) totals[s.state] = (totals[s.state] ?? 0) + (s.toMs - s.fromMs);
  return totals;
}
