import { describe, expect, it } from 'vitest';
import { canTransition, SINK_STATES, sinkBackoffMs, seqOfMessageId, sinkMessageId, sinkSubject } from '../../cloud-relay/sinks/index.js';

describe('sink subjects and message ids', () => {
  it('maps dots in names to ~, one to one', () => {
    expect(sinkSubject('wardline', 'h-zj-002', 'adt')).toBe('wardline.h-zj-002.adt');
    expect(sinkSubject('org.wardline', 'h.zj.1', 'lab.results')).toBe('org.wardline.h~zj~1.lab~results');
    expect(sinkSubject('w', 'a.b', 'c')).not.toBe(sinkSubject('w', 'a', 'b.c'));
  });

  it('reads back the seq of the feed\'s own ids only', () => {
    expect(seqOfMessageId(sinkMessageId('h.1', 'adt', 42), 'h.1', 'adt')).toBe(42);
    for (const id of [undefined, '', 'h.1/adt/', 'h.1/adt/0', 'h.1/adt/01', 'h.1/adt/4x', 'h.1/orm/4', 'other', 'h.1/adt/99999999999999999'])
      expect(seqOfMessageId(id, 'h.1', 'adt')).toBeUndefined();
  });

  it('backs off doubling to the cap', () => {
    expect([0, 1, 2, 3, 4, 10, 60].map((n) => sinkBackoffMs(n, 1_000))).toEqual([0, 100, 200, 400, 800, 1_000, 1_000]);
  });

  it('allows no way out of stopped, and every state back to a reconcile but stopped', () => {
    for (const s of SINK_STATES) expect(canTransition('stopped', s)).toBe(s === 'stopped');
    for (const s of SINK_STATES.filter((s) => s !== 'stopped' && s !== 'starting')) expect(canTransition(s, 'reconciling') || s === 'reconciling').toBe(true);
    expect(canTransition('caught-up', 'starting')).toBe(false);
  });
});
