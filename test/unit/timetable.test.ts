import { describe, expect, it } from 'vitest';
import {
  ALL_DAYS,
  boundarySecondsOfDay,
  instantAt,
  parseDays,
  parseTimeOfDay,
  policyAt,
  wallClockAt,
  type Timetable,
  type TimetableWindow,
} from '../../agent/bandwidth/index.js';

const SHANGHAI = 'Asia/Shanghai';
/** An instant given as Beijing time (UTC+8, no daylight saving). 2026-11-18 is a Wednesday. */
const cst = (month: number, day: number, hour: number, minute = 0, second = 0) => Date.UTC(2026, month - 1, day, hour - 8, minute, second);
const hm = (h: number, m = 0) => h * 3600 + m * 60;

const clinicHours: TimetableWindow = { name: 'clinic-hours', days: [1, 2, 3, 4, 5], fromSecond: hm(8), toSecond: hm(18), rateBytesPerSecond: 2_500_000 };
const bulkNight: TimetableWindow = { name: 'bulk-night', days: ALL_DAYS, fromSecond: hm(22), toSecond: hm(6), classRule: { classes: ['bulk'], allow: true } };

const hospital: Timetable = {
  baseRateBytesPerSecond: 12_500_000,
  classes: ['clinical', 'standard', 'bulk'],
  windows: [clinicHours, bulkNight],
  timeZone: SHANGHAI,
};

describe('policyAt', () => {
  it('applies a weekday window’s rate during its hours and holds bulk back outside its night window', () => {
    const policy = policyAt(hospital, cst(11, 18, 10));
    expect(policy).toEqual({
      rateBytesPerSecond: 2_500_000,
      windowsInForce: ['clinic-hours'],
      blocked: [{ class: 'bulk', reason: 'may send only during bulk-night' }],
      nextChange: { atMs: cst(11, 18, 18), description: 'clinic-hours ends' },
    });
  });

  it('includes the start of a window and excludes its end', () => {
    expect(policyAt(hospital, cst(11, 18, 8)).windowsInForce).toEqual(['clinic-hours']);
    expect(policyAt(hospital, cst(11, 18, 7, 59, 59)).windowsInForce).toEqual([]);
    expect(policyAt(hospital, cst(11, 18, 18)).windowsInForce).toEqual([]);
    expect(policyAt(hospital, cst(11, 18, 17, 59, 59)).windowsInForce).toEqual(['clinic-hours']);
  });

  it('keeps a window that crosses midnight in force until its end the next morning', () => {
    const evening = policyAt(hospital, cst(11, 18, 23, 30));
    expect(evening.windowsInForce).toEqual(['bulk-night']);
    expect(evening.blocked).toEqual([]);
    expect(evening.rateBytesPerSecond).toBe(12_500_000);
    expect(evening.nextChange).toEqual({ atMs: cst(11, 19, 6), description: 'bulk-night ends' });

    const small = policyAt(hospital, cst(11, 19, 3));
    expect(small.windowsInForce).toEqual(['bulk-night']);
    expect(policyAt(hospital, cst(11, 19, 6)).windowsInForce).toEqual([]);
    expect(policyAt(hospital, cst(11, 19, 6)).blocked.map((b) => b.class)).toEqual(['bulk']);
  });

  it('ties the morning part of a midnight-crossing window to the day it started', () => {
    const fridayNight: Timetable = { ...hospital, windows: [{ ...bulkNight, name: 'friday-night', days: [5] }] };
    expect(policyAt(fridayNight, cst(11, 20, 23)).windowsInForce).toEqual(['friday-night']);
    expect(policyAt(fridayNight, cst(11, 21, 2)).windowsInForce).toEqual(['friday-night']); // Saturday morning
    expect(policyAt(fridayNight, cst(11, 21, 23)).windowsInForce).toEqual([]); // Saturday night
    expect(policyAt(fridayNight, cst(11, 20, 2)).windowsInForce).toEqual([]); // Friday morning: Thursday had none
    // From Saturday morning the next change is when it ends; from then, next Friday night.
    expect(policyAt(fridayNight, cst(11, 21, 2)).nextChange).toEqual({ atMs: cst(11, 21, 6), description: 'friday-night ends' });
    expect(policyAt(fridayNight, cst(11, 21, 7)).nextChange).toEqual({ atMs: cst(11, 27, 22), description: 'friday-night begins' });
  });

  it('leaves weekends to the base rate and finds the next change across them', () => {
    const saturday = policyAt(hospital, cst(11, 21, 10));
    expect(saturday.windowsInForce).toEqual([]);
    expect(saturday.rateBytesPerSecond).toBe(12_500_000);
    expect(saturday.nextChange).toEqual({ atMs: cst(11, 21, 22), description: 'bulk-night begins' });
    // Friday evening: the 18:00 end of clinic hours has passed; next is the night window.
    expect(policyAt(hospital, cst(11, 20, 19)).nextChange).toEqual({ atMs: cst(11, 20, 22), description: 'bulk-night begins' });
    // Sunday after the night window: Monday's clinic hours.
    expect(policyAt(hospital, cst(11, 23, 7)).nextChange).toEqual({ atMs: cst(11, 23, 8), description: 'clinic-hours begins' });
  });

  it('reads the windows in the configured zone: the same instant is clinic hours in Shanghai, not in UTC', () => {
    const instant = Date.UTC(2026, 10, 18, 1, 0); // 09:00 in Shanghai, 01:00 UTC
    expect(policyAt(hospital, instant).windowsInForce).toEqual(['clinic-hours']);
    const utc = policyAt({ ...hospital, timeZone: 'UTC' }, instant);
    expect(utc.windowsInForce).toEqual(['bulk-night']);
    expect(utc.nextChange).toEqual({ atMs: Date.UTC(2026, 10, 18, 6), description: 'bulk-night ends' });
  });

  it('lets a refusal win over a permission and the lowest overlapping rate apply', () => {
    const timetable: Timetable = {
      ...hospital,
      windows: [
        bulkNight,
        { name: 'night-backup', days: ALL_DAYS, fromSecond: hm(23), toSecond: hm(1), classRule: { classes: ['bulk', 'standard'], allow: false }, rateBytesPerSecond: null },
        { name: 'night-cap', days: ALL_DAYS, fromSecond: hm(0), toSecond: hm(2), rateBytesPerSecond: 1_000_000 },
      ],
    };
    const at = policyAt(timetable, cst(11, 19, 0, 30));
    expect(at.windowsInForce).toEqual(['bulk-night', 'night-backup', 'night-cap']);
    expect(at.blocked).toEqual([
      { class: 'standard', reason: 'held back during night-backup' },
      { class: 'bulk', reason: 'held back during night-backup' },
    ]);
    expect(at.rateBytesPerSecond).toBe(1_000_000);
    // "unlimited" in a window replaces the base rate.
    expect(policyAt(timetable, cst(11, 18, 23, 30)).rateBytesPerSecond).toBeNull();
    expect(policyAt(timetable, cst(11, 19, 1)).nextChange).toEqual({ atMs: cst(11, 19, 2), description: 'night-cap ends' });
  });

  it('has no next change when no window ever starts or ends a change', () => {
    expect(policyAt({ ...hospital, windows: [] }, cst(11, 18, 10))).toEqual({ rateBytesPerSecond: 12_500_000, windowsInForce: [], blocked: [], nextChange: null });
    const always: Timetable = { ...hospital, windows: [{ name: 'always', days: ALL_DAYS, fromSecond: 0, toSecond: 86_400, rateBytesPerSecond: 1000 }] };
    expect(policyAt(always, cst(11, 18, 10))).toMatchObject({ rateBytesPerSecond: 1000, windowsInForce: ['always'], nextChange: null });
  });

  it('lists the distinct times of day node-cron must wake at', () => {
    expect(boundarySecondsOfDay(hospital)).toEqual([hm(6), hm(8), hm(18), hm(22)]);
    expect(boundarySecondsOfDay({ ...hospital, windows: [{ name: 'to-midnight', days: ALL_DAYS, fromSecond: hm(20), toSecond: 86_400, rateBytesPerSecond: 1 }] })).toEqual([0, hm(20)]);
  });
});

describe('timetable notation', () => {
  it('reads times of day, with seconds, and "24:00" only as an end', () => {
    expect(parseTimeOfDay('08:00', { endOfDay: false })).toBe(hm(8));
    expect(parseTimeOfDay('8:05', { endOfDay: false })).toBe(hm(8, 5));
    expect(parseTimeOfDay('22:30:15', { endOfDay: false })).toBe(hm(22, 30) + 15);
    expect(parseTimeOfDay('24:00', { endOfDay: true })).toBe(86_400);
    expect(() => parseTimeOfDay('24:00', { endOfDay: false })).toThrow(/expected a time of day "HH:MM" or "HH:MM:SS"/);
    for (const bad of ['25:00', '08:60', '8', '08:00pm', '']) expect(() => parseTimeOfDay(bad, { endOfDay: true })).toThrow(/expected a time of day/);
  });

  it('reads days as ranges (wrapping past Sunday), lists, full names and "daily"', () => {
    expect(parseDays('mon-fri')).toEqual([1, 2, 3, 4, 5]);
    expect(parseDays('sat,sun')).toEqual([0, 6]);
    expect(parseDays('fri-mon')).toEqual([0, 1, 5, 6]);
    expect(parseDays(['Monday', 'wed'])).toEqual([1, 3]);
    expect(parseDays('daily')).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(() => parseDays('funday')).toThrow(/"funday" is not a day/);
    expect(() => parseDays('mon-tue-wed')).toThrow(/expected days such as/);
  });
});

describe('wall clock in a zone', () => {
  it('reads and writes Beijing time', () => {
    expect(wallClockAt(cst(11, 18, 23, 59, 30), SHANGHAI)).toEqual({ year: 2026, month: 11, day: 18, weekday: 3, secondOfDay: hm(23, 59) + 30 });
    expect(instantAt(SHANGHAI, { year: 2026, month: 11, day: 18 }, hm(8))).toBe(cst(11, 18, 8));
    // Rolls over: second 86400 of the 18th is midnight of the 19th; day 31 of November is 1 December.
    expect(instantAt(SHANGHAI, { year: 2026, month: 11, day: 18 }, 86_400)).toBe(cst(11, 19, 0));
    expect(instantAt(SHANGHAI, { year: 2026, month: 11, day: 31 }, 0)).toBe(cst(12, 1, 0));
  });

  it('shifts a time inside a daylight-saving gap forward by the gap and maps a repeated hour to its first occurrence', () => {
    const ny = 'America/New_York';
    // 2026-03-08 02:30 does not exist in New York (clocks go 02:00 EST -> 03:00 EDT at 07:00 UTC): 03:30 EDT.
    expect(instantAt(ny, { year: 2026, month: 3, day: 8 }, hm(2, 30))).toBe(Date.UTC(2026, 2, 8, 7, 30));
    // 2026-11-01 01:30 happens twice; the first is EDT (05:30 UTC).
    expect(instantAt(ny, { year: 2026, month: 11, day: 1 }, hm(1, 30))).toBe(Date.UTC(2026, 10, 1, 5, 30));
    expect(instantAt(ny, { year: 2026, month: 7, day: 1 }, hm(8))).toBe(Date.UTC(2026, 6, 1, 12));
  });
});
