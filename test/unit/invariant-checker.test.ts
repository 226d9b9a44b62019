import { describe, expect, it } from 'vitest';
import { checkInvariants, type CheckedEvent } from '../chaos/invariant-checker.js';

const event = (seq: number, stream = 'adt', sourceId = `M${seq}`, body = `body ${seq}`): CheckedEvent => ({ seq, stream, key: `K${seq}`, op: 'upsert', body, sourceId });
const acked = (ids: string[]) => ids.map((sourceId) => ({ sourceId, stream: 'adt' }));

describe('checkInvariants', () => {
  const journal = [event(1), event(2), event(3, 'results'), event(4)];

  it('passes a faithful feed', () => {
    const report = checkInvariants(acked(['M1', 'M2', 'M3', 'M4']), journal, journal);
    expect(report.violations).toEqual([]);
    expect(report.journalDigest).toBe(report.feedDigest);
  });

  it('names an acknowledged message missing from the feed', () => {
    const report = checkInvariants(acked(['M1', 'M2', 'M3', 'M4']), journal, [event(1), event(2), event(4)]);
    expect(report.violations).toContain('acknowledged but not in the vendor feed (1): M3');
  });

  it('names duplicates, reordering, unknown and altered events', () => {
    const feed = [event(1), event(2), event(2), event(4), event(3, 'results'), event(9), event(4, 'adt', 'M4', 'tampered')];
    const v = checkInvariants(acked(['M1']), journal, feed).violations.join('\n');
    expect(v).toMatch(/seq served twice \(2\): 2, 4/);
    expect(v).toMatch(/source id served twice \(2\): M2, M4/);
    expect(v).toMatch(/out of order within a stream \(2\): adt:2 after 2, adt:4 after 9/);
    expect(v).toMatch(/served by the relay but never journaled by the agent \(1\): 9/);
    expect(v).toMatch(/served with content different from the journal \(1\): 4/);
    expect(v).toMatch(/feed digest .* differs from journal digest/);
  });

  it('reports relay-ahead observations made during the run', () => {
    const v = checkInvariants([], journal, journal, ['relay 10 > agent 9 at 12:00:01']).violations;
    expect(v).toEqual(['relay high-water mark observed ahead of the agent journal (1): relay 10 > agent 9 at 12:00:01']);
  });
});
