import { describe, expect, it } from 'vitest';
import { createDiskAdmission, type DiskPressure } from '../../agent/health/disk-admission.js';

describe('disk admission', () => {
  const disk: { -readonly [K in keyof DiskPressure]: DiskPressure[K] } = { state: 'ok', reason: null };
  const admission = createDiskAdmission({ disk, criticalSources: new Set(['lis']) });

  it('accepts everything while the disk is ok or warning', () => {
    disk.state = 'warning';
    disk.reason = '85.0% used (threshold 80%)';
    expect(admission('his')).toBeUndefined();
    expect(admission('http')).toBeUndefined();
  });

  it('at critical refuses non-critical sources with a reason their engineers can act on, and accepts critical ones', () => {
    disk.state = 'critical';
    disk.reason = '96.1% used (threshold 95%)';
    expect(admission('his')).toBe('disk critically full on the Wardline agent: 96.1% used (threshold 95%); message not accepted, retry later');
    expect(admission('http')).toMatch(/^disk critically full/);
    expect(admission('lis')).toBeUndefined();
  });

  it('accepts again as soon as the disk has recovered', () => {
    disk.state = 'ok';
    disk.reason = null;
    expect(admission('his')).toBeUndefined();
  });
});
