// The bandwidth policy in force at an instant, from the configured timetable.
// Pure: the instant is an argument; node-cron only decides when to ask again
// (timetable-scheduler.ts).
//
// Semantics (examples/agent.yaml documents them for operators):
//  - A window is in force from `from` (inclusive) to `to` (exclusive), local
//    time in the timetable's zone, on the days listed. A window whose `to` is at
//    or before its `from` crosses midnight: it belongs to the day it starts on, so
//    "fri 22:00 → 06:00" runs into Saturday morning.
//  - rate: while any window with a rate is in force, the lowest of their rates
//    applies ("unlimited" counts as the highest); otherwise bandwidth.rate.
//  - classes + allow: true: those classes may send only while such a window is in
//    force. classes + allow: false: those classes may not send while it is in
//    force. A refusal wins over a permission.
import { InvalidTimetableError } from './errors.js';
import { instantAt, wallClockAt } from './wall-clock.js';

/** Seconds in a day; also the `to` of a window that ends at midnight ("24:00"). */
export const SECONDS_PER_DAY = 86_400;
export const ALL_DAYS: readonly number[] = [0, 1, 2, 3, 4, 5, 6];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const FULL_DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
/** How far ahead nextChange looks: a week plus the day a window may spill into. */
const HORIZON_DAYS = 8;

export interface TimetableWindow {
  name: string;
  /** Days the window starts on: 0 = Sunday … 6 = Saturday. */
  days: readonly number[];
  /** Start, seconds after local midnight (0–86399). */
  fromSecond: number;
  /** End, seconds after local midnight (1–86400); at or before fromSecond: the next day. */
  toSecond: number;
  /** Rate while in force, bytes per second (null = unlimited); undefined leaves the rate alone. */
  rateBytesPerSecond?: number | null;
  /** Which classes this window lets send (allow) or holds back (!allow). */
  classRule?: { classes: readonly string[]; allow: boolean };
}

export interface Timetable {
  /** The rate outside any window that sets one, bytes per second; null = unlimited. */
  baseRateBytesPerSecond: number | null;
  /** Every class, highest priority first. */
  classes: readonly string[];
  windows: readonly TimetableWindow[];
  /** IANA zone the windows' times are read in. */
  timeZone: string;
}

export interface BlockedClass {
  class: string;
  /** For operators: "may send only during bulk-night". */
  reason: string;
}

export interface BandwidthPolicy {
  /** Bytes per second; null = unlimited. */
  rateBytesPerSecond: number | null;
  /** Names of the windows in force, in config order. */
  windowsInForce: string[];
  /** Classes that may not send now, in class order. */
  blocked: BlockedClass[];
  /** When the windows in force next change and how; null if they never do. */
  nextChange: { atMs: number; description: string } | null;
}

/** Whether `window` is in force at a wall-clock weekday and second of day. */
function inForce(window: TimetableWindow, weekday: number, secondOfDay: number): boolean {
  if (window.toSecond > window.fromSecond) {
    return window.days.includes(weekday) && secondOfDay >= window.fromSecond && secondOfDay < window.toSecond;
  }
  // Crosses midnight: the evening part today, or the morning part of a window that began yesterday.
  const yesterday = (weekday + 6) % 7;
  return (window.days.includes(weekday) && secondOfDay >= window.fromSecond) || (window.days.includes(yesterday) && secondOfDay < window.toSecond);
}

/** The windows in force at an instant, in config order. */
export function windowsInForceAt(timetable: Timetable, atMs: number): TimetableWindow[] {
  const clock = wallClockAt(atMs, timetable.timeZone);
  return timetable.windows.filter((w) => inForce(w, clock.weekday, clock.secondOfDay));
}

/** The policy in force at an instant (ms since the epoch), and when it next changes. */
export function policyAt(timetable: Timetable, atMs: number): BandwidthPolicy {
  const active = windowsInForceAt(timetable, atMs);
  return { ...policyOf(timetable, active), nextChange: nextChangeAfter(timetable, atMs, active) };
}

function policyOf(timetable: Timetable, active: readonly TimetableWindow[]): Omit<BandwidthPolicy, 'nextChange'> {
  let rate: number | null | undefined;
  for (const window of active) {
    if (window.rateBytesPerSecond === undefined) continue;
    rate = lowerRate(rate, window.rateBytesPerSecond);
  }
  const blocked: BlockedClass[] = [];
  for (const name of timetable.classes) {
    const holding = active.filter((w) => w.classRule && !w.classRule.allow && w.classRule.classes.includes(name));
    if (holding.length > 0) {
      blocked.push({ class: name, reason: `held back during ${holding.map((w) => w.name).join(', ')}` });
      continue;
    }
    const permitting = timetable.windows.filter((w) => w.classRule?.allow && w.classRule.classes.includes(name));
    if (permitting.length > 0 && !permitting.some((w) => active.includes(w))) {
      blocked.push({ class: name, reason: `may send only during ${permitting.map((w) => w.name).join(', ')}` });
    }
  }
  return {
    rateBytesPerSecond: rate === undefined ? timetable.baseRateBytesPerSecond : rate,
    windowsInForce: active.map((w) => w.name),
    blocked,
  };
}

function lowerRate(a: number | null | undefined, b: number | null): number | null {
  if (a === undefined || a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

/** The next instant after `atMs` at which the set of windows in force changes. */
function nextChangeAfter(timetable: Timetable, atMs: number, active: readonly TimetableWindow[]): BandwidthPolicy['nextChange'] {
  const boundaries = boundarySecondsOfDay(timetable);
  if (boundaries.length === 0) return null;
  const today = wallClockAt(atMs, timetable.timeZone);
  const candidates: number[] = [];
  for (let offset = 0; offset <= HORIZON_DAYS; offset++) {
    for (const second of boundaries) {
      const at = instantAt(timetable.timeZone, { year: today.year, month: today.month, day: today.day + offset }, second);
      if (at > atMs) candidates.push(at);
    }
  }
  candidates.sort((a, b) => a - b);
  for (const at of candidates) {
    const then = windowsInForceAt(timetable, at);
    const ended = active.filter((w) => !then.includes(w)).map((w) => `${w.name} ends`);
    const began = then.filter((w) => !active.includes(w)).map((w) => `${w.name} begins`);
    if (ended.length + began.length > 0) return { atMs: at, description: [...ended, ...began].join(', ') };
  }
  return null;
}

/** The distinct times of day at which some window starts or ends, in seconds after midnight, ascending. */
export function boundarySecondsOfDay(timetable: Timetable): number[] {
  const seconds = new Set<number>();
  for (const window of timetable.windows) {
    seconds.add(window.fromSecond % SECONDS_PER_DAY);
    seconds.add(window.toSecond % SECONDS_PER_DAY);
  }
  return [...seconds].sort((a, b) => a - b);
}

/**
 * Reads "HH:MM" or "HH:MM:SS" (24-hour clock) as seconds after midnight.
 * "24:00" (the end of the day) only when `endOfDay` is allowed, i.e. for `to`.
 */
export function parseTimeOfDay(text: string, options: { endOfDay: boolean }): number {
  const match = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  const expected = `expected a time of day "HH:MM" or "HH:MM:SS" (24-hour${options.endOfDay ? ', "24:00" for midnight at the end of the day' : ''})`;
  if (!match) throw new InvalidTimetableError(text, expected);
  const [h, m, s] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
  if (h === 24 && m === 0 && s === 0 && options.endOfDay) return SECONDS_PER_DAY;
  if (h > 23 || m > 59 || s > 59) throw new InvalidTimetableError(text, expected);
  return h * 3600 + m * 60 + s;
}

/**
 * Reads days as "mon-fri", "sat,sun", "fri-mon" (a range may wrap past Sunday),
 * "daily", or a list of such items. Returns weekday numbers (0 = Sunday), ascending.
 */
export function parseDays(input: string | readonly string[]): number[] {
  const items = (typeof input === 'string' ? input.split(',') : input.flatMap((item) => item.split(','))).map((item) => item.trim().toLowerCase());
  const days = new Set<number>();
  for (const item of items) {
    if (item === 'daily' || item === 'every day') {
      for (const d of ALL_DAYS) days.add(d);
      continue;
    }
    const range = item.split('-').map((part) => part.trim());
    if (range.length === 1) {
      days.add(dayNumber(range[0]!, input));
    } else if (range.length === 2) {
      const first = dayNumber(range[0]!, input);
      const last = dayNumber(range[1]!, input);
      for (let d = first; ; d = (d + 1) % 7) {
        days.add(d);
        if (d === last) break;
      }
    } else {
      throw new InvalidTimetableError(input, `expected days such as "mon-fri", "sat,sun" or "daily", got "${item}"`);
    }
  }
  if (days.size === 0) throw new InvalidTimetableError(input, 'expected at least one day');
  return [...days].sort((a, b) => a - b);
}

function dayNumber(name: string, input: unknown): number {
  const short = DAY_NAMES.indexOf(name as (typeof DAY_NAMES)[number]);
  if (short >= 0) return short;
  const full = FULL_DAY_NAMES.indexOf(name);
  if (full >= 0) return full;
  throw new InvalidTimetableError(input, `expected days such as "mon-fri", "sat,sun" or "daily"; "${name}" is not a day (mon, tue, wed, thu, fri, sat, sun)`);
}
