// The imaging ETA under the bandwidth timetable (agent/operations/imaging-eta.ts),
// with fixed instants in Beijing time, and the recent chunk rate it walks
// (imaging-rate.ts). 2026-11-18 is a Wednesday.
import { describe, expect, it } from 'vitest';
import { ALL_DAYS, type Timetable, type TimetableWindow } from '../../agent/bandwidth/index.js';
import { imagingEta } from '../../agent/operations/imaging-eta.js';
import { ImagingRate } from '../../agent/operations/imaging-rate.js';

const SHANGHAI = 'Asia/Shanghai';
const cst = (month: number, day: number, hour: number, minute = 0) => Date.UTC(2026, month - 1, day, hour - 8, minute);
const hm = (h: number, m = 0) => h * 3600 + m * 60;
const MB = 1_000_000;

const bulkNight: TimetableWindow = { name: 'bulk-night', days: ALL_DAYS, fromSecond: hm(20), toSecond: hm(6), classRule: { classes: ['bulk'], allow: true } };
const clinicHours: TimetableWindow = { name: 'clinic-hours', days: [1, 2, 3, 4, 5], fromSecond: hm(8), toSecond: hm(18), rateBytesPerSecond: 1 * MB };
const timetable = (windows: TimetableWindow[], base: number | null = null): Timetable => ({ baseRateBytesPerSecond: base, classes: ['clinical', 'standard', 'bulk'], windows, timeZone: SHANGHAI });

describe('imagingEta', () => {
  it('is bytes over the rate when the class may send and no window changes', () => {
    expect(imagingEta({ bytesWaiting: 600 * MB, rateBytesPerSecond: 2 * MB, feedClass: 'bulk', timetable: null, nowMs: cst(11, 18, 14) })).toEqual({ seconds: 300, opensAt: null });
  });

  it('is 0 with nothing waiting, even while the class is held back or nothing is known of the rate', () => {
    expect(imagingEta({ bytesWaiting: 0, rateBytesPerSecond: null, feedClass: 'bulk', timetable: timetable([bulkNight]), nowMs: cst(11, 18, 14) })).toEqual({ seconds: 0, opensAt: null });
  });

  it('is null with a zero or unknown rate, but still says when a held-back class opens', () => {
    const now = cst(11, 18, 14);
    expect(imagingEta({ bytesWaiting: MB, rateBytesPerSecond: 0, feedClass: 'standard', timetable: null, nowMs: now })).toEqual({ seconds: null, opensAt: null });
    expect(imagingEta({ bytesWaiting: MB, rateBytesPerSecond: null, feedClass: 'bulk', timetable: timetable([bulkNight]), nowMs: now })).toEqual({ seconds: null, opensAt: { atMs: cst(11, 18, 20), windows: ['bulk-night'] } });
  });

  it('waits for tonight’s window: a bulk study at 14:00 ships from 20:00', () => {
    const now = cst(11, 18, 14);
    const eta = imagingEta({ bytesWaiting: 600 * MB, rateBytesPerSecond: 2 * MB, feedClass: 'bulk', timetable: timetable([bulkNight]), nowMs: now });
    expect(eta.opensAt).toEqual({ atMs: cst(11, 18, 20), windows: ['bulk-night'] });
    expect(eta.seconds).toBe(6 * 3600 + 300);
  });

  it('carries over midnight inside a window that spans it, and past its end to the next night', () => {
    // 23:00, 8 hours of bytes at the rate: 7 hours tonight (to 06:00), the last hour from 20:00 the next day.
    const now = cst(11, 18, 23);
    const eta = imagingEta({ bytesWaiting: 8 * 3600 * MB, rateBytesPerSecond: MB, feedClass: 'bulk', timetable: timetable([bulkNight]), nowMs: now });
    expect(eta.opensAt).toBeNull();
    expect(eta.seconds).toBe((cst(11, 19, 21) - now) / 1000);
    // 02:00 in the morning part of a window that began yesterday: allowed until 06:00.
    expect(imagingEta({ bytesWaiting: 3600 * MB, rateBytesPerSecond: MB, feedClass: 'bulk', timetable: timetable([bulkNight]), nowMs: cst(11, 19, 2) }).seconds).toBe(3600);
  });

  it('leaves a class the timetable does not hold back alone', () => {
    expect(imagingEta({ bytesWaiting: 100 * MB, rateBytesPerSecond: 10 * MB, feedClass: 'clinical', timetable: timetable([bulkNight]), nowMs: cst(11, 18, 14) })).toEqual({ seconds: 10, opensAt: null });
  });

  it('never exceeds a window’s rate limit, and speeds up to the recent rate when the window ends', () => {
    // 17:00 on a Wednesday: 1 MB/s until 18:00 (3600 MB), then 5 MB/s.
    const now = cst(11, 18, 17);
    const eta = imagingEta({ bytesWaiting: 3600 * MB + 500 * MB, rateBytesPerSecond: 5 * MB, feedClass: 'standard', timetable: timetable([clinicHours]), nowMs: now });
    expect(eta.seconds).toBe(3600 + 100);
  });

  it('is null for a class held back by a window that is always in force', () => {
    const always: TimetableWindow = { name: 'no-bulk', days: ALL_DAYS, fromSecond: 0, toSecond: 86_400, classRule: { classes: ['bulk'], allow: false } };
    expect(imagingEta({ bytesWaiting: MB, rateBytesPerSecond: MB, feedClass: 'bulk', timetable: timetable([always]), nowMs: cst(11, 18, 14) }).seconds).toBeNull();
  });

  it('holds back a blocked class during a refusing window and resumes when it ends', () => {
    // bulk is refused 08:00–18:00 on weekdays; at 17:30 it waits half an hour.
    const day: TimetableWindow = { name: 'day', days: [1, 2, 3, 4, 5], fromSecond: hm(8), toSecond: hm(18), classRule: { classes: ['bulk'], allow: false } };
    const eta = imagingEta({ bytesWaiting: 60 * MB, rateBytesPerSecond: MB, feedClass: 'bulk', timetable: timetable([day]), nowMs: cst(11, 18, 17, 30) });
    expect(eta).toEqual({ seconds: 1800 + 60, opensAt: { atMs: cst(11, 18, 18), windows: [] } });
  });
});

describe('ImagingRate', () => {
  it('measures chunk bytes over the window and keeps the rate while the class is held back', () => {
    const rate = new ImagingRate(30_000);
    expect(rate.observe('pacs', 0, 0, true)).toBeNull();
    expect(rate.observe('pacs', 10 * MB, 5_000, true)).toBe(2 * MB);
    // Held back: nothing moves for minutes, the rate measured while sending stays.
    expect(rate.observe('pacs', 10 * MB, 60_000, false)).toBe(2 * MB);
    expect(rate.observe('pacs', 10 * MB, 600_000, false)).toBe(2 * MB);
    // Allowed again and still nothing moves for a whole window: no longer known.
    expect(rate.observe('pacs', 10 * MB, 640_000, true)).toBeNull();
  });

  it('starts again when the counter or the clock goes back', () => {
    const rate = new ImagingRate(30_000);
    rate.observe('pacs', 50 * MB, 0, true);
    expect(rate.observe('pacs', 60 * MB, 10_000, true)).toBe(MB);
    rate.observe('pacs', 0, 11_000, true);
    expect(rate.observe('pacs', 4 * MB, 13_000, true)).toBe(2 * MB);
  });
});
