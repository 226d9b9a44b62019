import { describe, expect, it } from 'vitest';
import { imagingRouteName, latestPerInstance } from '../../cloud-relay/http/imaging-routes.js';
import type { BlobReference } from '../../cloud-relay/store/index.js';

const ref = (seq: number, seriesUid: string, sopInstanceUid: string): BlobReference => ({
  seq,
  sha256: String(seq).padStart(64, '0'),
  size: 10,
  studyUid: '1.2',
  seriesUid,
  sopInstanceUid,
  sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
});

describe('latestPerInstance', () => {
  it('keeps each SOP instance once, as its latest event names it, in the order given', () => {
    // Ordered as the store lists them: series, then seq.
    const refs = [ref(1, '1.2.1', '1.2.1.1'), ref(2, '1.2.1', '1.2.1.2'), ref(9, '1.2.1', '1.2.1.1'), ref(4, '1.2.2', '1.2.1.2'), ref(5, '1.2.2', '1.2.2.1')];
    expect(latestPerInstance(refs).map((r) => r.seq)).toEqual([9, 4, 5]);
    expect(latestPerInstance([])).toEqual([]);
  });
});

describe('imagingRouteName', () => {
  it('names the study, series and instance routes, and nothing else', () => {
    const base = '/v1/hospitals/h1/feeds/imaging/studies/1.2.3';
    expect(imagingRouteName(base)).toBe('imaging-study');
    expect(imagingRouteName(`${base}/series/1.2.3.4`)).toBe('imaging-series');
    expect(imagingRouteName(`${base}/series/1.2.3.4/instances/1.2.3.4.5`)).toBe('imaging-instance');
    for (const other of [`${base}/`, `${base}/series`, `${base}/series/1/instances`, `${base}/series/1/instances/2/frames/1`, '/v1/feeds/imaging/events', '/v1/hospitals/h1/feeds/imaging']) {
      expect(imagingRouteName(other), other).toBeUndefined();
    }
  });
});
