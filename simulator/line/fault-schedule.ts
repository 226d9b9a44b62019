// A seeded plan of link faults ("flaps"): the same seed always yields the same
// faults at the same offsets, so a failing fault run can be replayed exactly.
// Pure: FaultProxy.playSchedule() is what applies a plan in real time.
import { SeededRandom, type Seed } from '../seeded-random.js';

/** reset: every connection gets a RST (instant). blackhole / refuse: held for the fault's duration, then healed. */
export type FaultKind = 'reset' | 'blackhole' | 'refuse';

export interface FaultScheduleOptions {
  seed: Seed;
  /** How many faults to play. */
  faults: number;
  /** Quiet time before each fault, drawn uniformly from [minGapMs, maxGapMs], in ms. */
  minGapMs: number;
  maxGapMs: number;
  /** Kinds to draw from, uniformly; default all three. */
  kinds?: readonly FaultKind[];
  /** How long a blackhole or refuse lasts, drawn from [minDurationMs, maxDurationMs]; default the gap range, in ms. */
  minDurationMs?: number;
  maxDurationMs?: number;
}

export interface PlannedFault {
  /** When the fault starts, ms after the schedule starts. */
  atMs: number;
  kind: FaultKind;
  /** How long it lasts before heal(), in ms; 0 for reset. */
  durationMs: number;
}

export const ALL_FAULT_KINDS: readonly FaultKind[] = ['reset', 'blackhole', 'refuse'];

/** The faults a schedule will play, in order; the same options always give the same plan. */
export function planFaults(options: FaultScheduleOptions): PlannedFault[] {
  const kinds = options.kinds ?? ALL_FAULT_KINDS;
  const minDuration = options.minDurationMs ?? options.minGapMs;
  const maxDuration = options.maxDurationMs ?? options.maxGapMs;
  if (kinds.length === 0) throw new RangeError('a fault schedule needs at least one kind');
  if (options.minGapMs < 0 || options.maxGapMs < options.minGapMs) throw new RangeError(`bad gap range [${options.minGapMs}, ${options.maxGapMs}] ms`);
  if (minDuration < 0 || maxDuration < minDuration) throw new RangeError(`bad duration range [${minDuration}, ${maxDuration}] ms`);
  const random = new SeededRandom(options.seed);
  const plan: PlannedFault[] = [];
  let cursorMs = 0;
  for (let i = 0; i < options.faults; i++) {
    const atMs = cursorMs + random.int(options.minGapMs, options.maxGapMs);
    const kind = random.pick(kinds);
    const durationMs = kind === 'reset' ? 0 : random.int(minDuration, maxDuration);
    plan.push({ atMs, kind, durationMs });
    cursorMs = atMs + durationMs;
  }
  return plan;
}
