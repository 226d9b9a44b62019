// GET /v1/status for an imaging feed: the replication's imaging figures passed
// through, with etaSeconds walked through the timetable from the chunk rate the
// status has seen, opensAt while the timetable holds the class back, and no ETA
// while something else holds the feed (paused, a problem with the instances).
import { describe, expect, it } from 'vitest';
import { ALL_DAYS, type Timetable } from '../../agent/bandwidth/index.js';
import { createStatusProvider, type AgentStatusInputs, type ImagingFeedStatus } from '../../agent/operations/agent-status.js';
import type { ReplicatorStatus } from '../../agent/replication/index.js';

const MB = 1_000_000;
/** Beijing time on Wednesday 2026-11-18. */
const cst = (hour: number, minute = 0, second = 0) => Date.UTC(2026, 10, 18, hour - 8, minute, second);
const timetable: Timetable = {
  baseRateBytesPerSecond: null,
  classes: ['clinical', 'standard', 'bulk'],
  windows: [{ name: 'bulk-night', days: ALL_DAYS, fromSecond: 20 * 3600, toSecond: 6 * 3600, classRule: { classes: ['bulk'], allow: true } }],
  timeZone: 'Asia/Shanghai',
};

function imaging(over: Partial<ImagingFeedStatus> = {}): ImagingFeedStatus {
  return { studiesWaiting: 1, instancesWaiting: 300, bytesWaiting: 600 * MB, chunksSent: 0, chunksPerSecond: 0, chunkBytesSent: 0, dedupedBytes: 0, etaSeconds: null, current: null, problem: null, ...over };
}

type Feed = ReplicatorStatus['feeds'][number];
function feed(over: Partial<Feed>): Feed {
  return {
    feed: 'pacs', streams: ['imaging'], class: 'bulk', ackedSeq: 0, sentSeq: 0, inFlight: 0, lastAckAtMs: null, eventsSent: 0, bytesSent: 0, compression: { codec: 'none', level: 0, setting: 'fixed' }, batchesAcked: 0, duplicateAcks: 0, nacks: 0,
    rateBytesPerSecond: 0, rateEventsPerSecond: 0, blocked: null, blockedKind: null, paused: false, policyVersion: 0, identifiers: null, integrity: null, ...over,
  } as Feed;
}

function provider(feeds: () => Feed[], clock: () => number) {
  const inputs = {
    hospital: { id: 'h', name: '' }, agentId: 'a', version: '0.0.0', startedAtMs: 0,
    journal: { head: 0, pendingAppends: 0, groupCommitStats: { groups: 0, requests: 0 } },
    backlog: { backlog: () => ({ events: 300, bytes: 300_000, oldestTsMs: clock() - 1000 }) },
    replicators: () => [{ relay: 'cloud', state: 'streaming', sinceMs: 0, downSinceMs: null, lastError: null, lastErrorKind: null, relayId: null, reconnects: 0, nextAttemptAtMs: null, transitions: [], feeds: feeds() }],
    sources: () => [],
    timetable,
    clock,
  } as unknown as AgentStatusInputs;
  return createStatusProvider(inputs);
}

describe('GET /v1/status: an imaging feed', () => {
  it('estimates from the chunk rate while sending, and says when tonight’s window opens once held back', () => {
    let now = cst(5, 59, 50);
    let current: Feed = feed({ imaging: imaging({ chunkBytesSent: 0 }) });
    const status = provider(() => [current], () => now);
    expect(status().feeds[0]!.imaging!.etaSeconds).toBeNull(); // no rate yet
    now = cst(5, 59, 55);
    current = feed({ imaging: imaging({ chunkBytesSent: 10 * MB, bytesWaiting: 590 * MB }) });
    // 2 MB/s, but only 5 s left of the night window: 10 MB now, the rest from 20:00.
    const sending = status().feeds[0]!.imaging!;
    expect(sending.opensAt).toBeNull();
    expect(sending.etaSeconds).toBe((cst(20) - now) / 1000 + 580 / 2);
    // 14:00, the class held back by the timetable: the rate measured while it sent stays.
    now = cst(14);
    current = feed({ blocked: 'may send only during bulk-night', blockedKind: 'timetable', imaging: imaging({ chunkBytesSent: 10 * MB, bytesWaiting: 590 * MB }) });
    const held = status().feeds[0]!.imaging!;
    expect(held.opensAt).toEqual({ atMs: cst(20), time: '20:00', dayOffset: 0, windows: ['bulk-night'] });
    expect(held.etaSeconds).toBe(6 * 3600 + 295);
    // Everything else of the replication's figures is passed through.
    expect(held.bytesWaiting).toBe(590 * MB);
    expect(held.studiesWaiting).toBe(1);
    expect(JSON.parse(JSON.stringify(held))).toEqual(held);
  });

  it('has no ETA while a problem or the operator holds the feed, and 0 with nothing waiting', () => {
    let now = cst(22);
    let current = feed({ imaging: imaging({ chunkBytesSent: 0 }) });
    const status = provider(() => [current], () => now);
    status();
    now += 5_000;
    const problem = { code: 'WL_A028', message: 'the relay does not take blob transfer', sinceMs: now };
    current = feed({ imaging: imaging({ chunkBytesSent: 10 * MB, problem }) });
    expect(status().feeds[0]!.imaging!.etaSeconds).toBeNull();
    now += 1_000;
    current = feed({ paused: true, blocked: 'paused by an operator', blockedKind: 'operator', imaging: imaging({ chunkBytesSent: 10 * MB }) });
    expect(status().feeds[0]!.imaging!.etaSeconds).toBeNull();
    current = feed({ imaging: imaging({ chunkBytesSent: 10 * MB, bytesWaiting: 0, instancesWaiting: 0, studiesWaiting: 0 }) });
    expect(status().feeds[0]!.imaging!.etaSeconds).toBe(0);
  });

  it('has no imaging object for a feed that carries no instances', () => {
    const status = provider(() => [feed({ streams: ['lis.results'], class: 'standard' })], () => cst(12));
    expect(status().feeds[0]!.imaging).toBeUndefined();
  });
});
