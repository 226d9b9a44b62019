// Wall-clock time in a named time zone (IANA, e.g. "Asia/Shanghai"), from and to
// instants. Pure: uses the ICU data built into Node, never the process's TZ.
//
// Daylight saving (not used in China, but a hospital group might be elsewhere): a
// wall-clock time that occurs twice maps to its first occurrence; one that does
// not occur (inside the skipped hour) is shifted forward by the gap, as clocks are.

export interface WallClock {
  year: number;
  /** 1–12. */
  month: number;
  /** 1–31. */
  day: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** Seconds since local midnight, 0–86399. */
  secondOfDay: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Whether the runtime knows this IANA time zone name. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock in `timeZone` at an instant (ms since the epoch). */
export function wallClockAt(atMs: number, timeZone: string): WallClock {
  const parts: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(atMs))) parts[part.type] = part.value;
  const hour = Number(parts.hour) % 24;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: WEEKDAYS[parts.weekday!]!,
    secondOfDay: hour * 3600 + Number(parts.minute) * 60 + Number(parts.second),
  };
}

/**
 * The instant (ms since the epoch) at which the wall clock in `timeZone` reads
 * `secondOfDay` on the given date. secondOfDay may exceed a day (86400 = the
 * next midnight); the date may be out of range (day 32), both roll over.
 */
export function instantAt(timeZone: string, date: { year: number; month: number; day: number }, secondOfDay: number): number {
  const asIfUtc = Date.UTC(date.year, date.month - 1, date.day) + secondOfDay * 1000;
  const first = asIfUtc - offsetMs(asIfUtc, timeZone);
  const second = asIfUtc - offsetMs(first, timeZone);
  if (first === second) return first;
  // Across a change of offset: prefer a candidate that reads back as asked (the
  // earlier one: first occurrence), else the later one (the wall time fell in a gap).
  const readsBack = (t: number) => localAsUtc(t, timeZone) === asIfUtc;
  if (readsBack(Math.min(first, second))) return Math.min(first, second);
  if (readsBack(Math.max(first, second))) return Math.max(first, second);
  return Math.max(first, second);
}

/** The wall clock at `atMs` read as if it were UTC, in ms (whole seconds). */
function localAsUtc(atMs: number, timeZone: string): number {
  const w = wallClockAt(atMs, timeZone);
  return Date.UTC(w.year, w.month - 1, w.day) + w.secondOfDay * 1000;
}

/** Local time minus UTC at an instant, in ms. */
function offsetMs(atMs: number, timeZone: string): number {
  const wholeSecond = Math.floor(atMs / 1000) * 1000;
  return localAsUtc(wholeSecond, timeZone) - wholeSecond;
}
