// When an imaging feed's waiting bytes have shipped: the feed's recent chunk rate
// walked forward through the bandwidth timetable. A CT study on a bulk class that
// may send only 20:00–06:00 does not ship "in 40 minutes" at 14:00: it ships from
// 20:00 on, so the estimate counts the hours the class is held back and fills
// only the stretches it may send in, each at the lower of the recent rate and
// the rate limit in force then. Pure: the instant and the timetable are arguments.
import { policyAt, type Timetable } from '../bandwidth/index.js';

/** The walk gives up past this many changes of the timetable (a week of windows is far fewer). */
const MAX_SEGMENTS = 200;
/** Nor does it look further ahead than this, in ms: a class that never sends has no estimate. */
const HORIZON_MS = 15 * 86_400_000;

export interface ImagingEtaInput {
  /** Bytes of the instances the relay does not hold yet. */
  bytesWaiting: number;
  /** The feed's recent chunk rate while it was sending, bytes per second; null or 0 when not known. */
  rateBytesPerSecond: number | null;
  /** The feed's priority class. */
  feedClass: string;
  /** The bandwidth timetable; null: no windows, the class always may send. */
  timetable: Timetable | null;
  nowMs: number;
}

export interface ImagingEta {
  /** Seconds from now until bytesWaiting has shipped; 0 when nothing waits; null when not known (no rate yet, or the class never sends). */
  seconds: number | null;
  /** When the class is held back by the timetable now: when it may next send and the windows then in force; null when it may send now. */
  opensAt: { atMs: number; windows: string[] } | null;
}

export function imagingEta(input: ImagingEtaInput): ImagingEta {
  const { bytesWaiting, feedClass, timetable, nowMs } = input;
  if (bytesWaiting <= 0) return { seconds: 0, opensAt: null };
  const rate = input.rateBytesPerSecond !== null && input.rateBytesPerSecond > 0 ? input.rateBytesPerSecond : null;
  let remaining = bytesWaiting;
  let opensAt: ImagingEta['opensAt'] = null;
  let atMs = nowMs;
  let heldNow = false;
  for (let segment = 0; segment < MAX_SEGMENTS && atMs - nowMs <= HORIZON_MS; segment++) {
    const policy = timetable ? policyAt(timetable, atMs) : { rateBytesPerSecond: null, windowsInForce: [], blocked: [], nextChange: null };
    const allowed = !policy.blocked.some((b) => b.class === feedClass);
    const endMs = policy.nextChange?.atMs ?? Infinity;
    if (segment === 0) heldNow = !allowed;
    if (allowed) {
      if (heldNow && opensAt === null) opensAt = { atMs, windows: policy.windowsInForce };
      if (rate === null) return { seconds: null, opensAt };
      const effective = Math.min(rate, policy.rateBytesPerSecond ?? Infinity);
      const capacity = effective * ((endMs - atMs) / 1000);
      if (remaining <= capacity) return { seconds: (atMs - nowMs) / 1000 + remaining / effective, opensAt };
      remaining -= capacity;
    }
    if (endMs === Infinity) break;
    atMs = endMs;
  }
  // Held back for good, or not done within the horizon: no honest estimate.
  return { seconds: null, opensAt };
}
