// The codes /v1/status carries beside its English reasons, for the dashboard to
// translate: a feed's blockedKind, the disk's reasonKind, a source's last
// rejection kind. Each is the one the English text describes.
import { describe, expect, it } from 'vitest';
import { describeDiskPressure, diskPressureKind, type DiskThresholds, type DiskUsage } from '../../agent/health/index.js';
import { feedBlockedKind } from '../../agent/replication/index.js';
import { hl7RejectionKind, httpRejectionKind, REJECTION_KINDS } from '../../agent/sources/index.js';

const GB = 1e9;
const usage = (percent: number): DiskUsage => ({ totalBytes: 100 * GB, usedBytes: percent * GB, freeBytes: (100 - percent) * GB });
const thresholds: DiskThresholds = { warnAtPercent: 80, criticalAtPercent: 95, hysteresisPercent: 2 };

describe('feedBlockedKind', () => {
  it('names the gate holder first, as `blocked` reads the gate first', () => {
    expect(feedBlockedKind({ state: 'held', by: 'integrity' }, 'held back during night')).toBe('integrity');
    expect(feedBlockedKind({ state: 'held', by: 'operator' }, undefined)).toBe('operator');
  });

  it('is timetable when only the uplink keeps the class off the line, and null when the feed may send', () => {
    expect(feedBlockedKind({ state: 'open' }, 'may send only during night')).toBe('timetable');
    expect(feedBlockedKind({ state: 'open' }, undefined)).toBeNull();
  });
});

describe('diskPressureKind', () => {
  it('names the threshold describeDiskPressure words', () => {
    expect(diskPressureKind('critical', usage(96.1), thresholds)).toBe('used-percent');
    expect(describeDiskPressure('critical', usage(96.1), thresholds)).toMatch(/% used/);
    const bytes: DiskThresholds = { ...thresholds, warnAtFreeBytes: 25 * GB, criticalAtFreeBytes: 10 * GB };
    expect(diskPressureKind('critical', usage(91), bytes)).toBe('free-bytes');
    expect(describeDiskPressure('critical', usage(91), bytes)).toBe('9.00 GB free (threshold 10.00 GB)');
    expect(diskPressureKind('ok', usage(10), thresholds)).toBeNull();
  });
});

describe('rejection kinds', () => {
  it('maps the HL7 codes the agent answers with, and an unknown one to other', () => {
    expect(hl7RejectionKind('100')).toBe('segment-sequence');
    expect(hl7RejectionKind('101')).toBe('required-field-missing');
    expect(hl7RejectionKind('207')).toBe('internal');
    expect(hl7RejectionKind('999')).toBe('other');
    expect(hl7RejectionKind(undefined)).toBe('other');
  });

  it('maps the HTTP ingest error codes; the admission refusal is the full disk', () => {
    expect(httpRejectionKind('refused')).toBe('disk-full');
    expect(httpRejectionKind('unsupported_media_type')).toBe('bad-content-type');
    expect(httpRejectionKind('forbidden')).toBe('forbidden');
    expect(httpRejectionKind('something_new')).toBe('other');
  });

  it('gives only kinds in REJECTION_KINDS (the dashboard has words for each)', () => {
    const given = ['100', '101', '102', '103', '200', '203', '207'].map(hl7RejectionKind).concat(['unauthorized', 'forbidden', 'unsupported_media_type', 'bad_op', 'bad_request', 'too_large', 'refused', 'internal'].map(httpRejectionKind));
    expect(given.filter((k) => !(REJECTION_KINDS as readonly string[]).includes(k))).toEqual([]);
    expect(given).not.toContain('other');
  });
});
