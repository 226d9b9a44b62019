// Status values of an imaging feed for the tests of what the operator sees (the
// dashboard card, metrics, alerts): an ImagingFeedView and the FeedStatus that
// carries it, with every other field at a plain value.
import type { FeedStatus, ImagingFeedView } from '../../agent/operations/agent-status.js';

export const MiB = 1024 * 1024;

export function imagingView(over: Partial<ImagingFeedView> = {}): ImagingFeedView {
  return {
    studiesWaiting: 2,
    instancesWaiting: 412,
    bytesWaiting: 1_650 * MiB,
    chunksSent: 96,
    chunksPerSecond: 1.5,
    chunkBytesSent: 384 * MiB,
    dedupedBytes: 120 * MiB,
    etaSeconds: 1_100,
    current: { sopInstanceUid: '1.2.826.0.1.3680043.8.498.7', studyUid: '1.2.826.0.1.3680043.8.498.1', chunksDone: 3, chunks: 8 },
    problem: null,
    opensAt: null,
    ...over,
  };
}

export function imagingFeed(over: Partial<FeedStatus> = {}, imaging: Partial<ImagingFeedView> = {}): FeedStatus {
  return {
    feed: 'pacs',
    relay: 'cloud',
    streams: ['imaging'],
    ackedSeq: 10,
    sentSeq: 10,
    inFlight: 0,
    backlog: { events: 412, bytes: 400_000, oldestAgeSeconds: 30 },
    lagSeconds: 30,
    lagThresholdSeconds: null,
    lastAckAtMs: null,
    eventsSent: 10,
    bytesSent: 10_000,
    compression: { codec: 'brotli', level: 5, setting: 'adaptive' },
    class: 'bulk',
    rateBytesPerSecond: 0,
    etaSeconds: null,
    caughtUpAtMs: null,
    drain: { eventsPerSecond: null, etaSeconds: null },
    blocked: null,
    blockedKind: null,
    paused: false,
    control: { state: 'active', reason: null, since: null, revokedAtRelay: false },
    policyVersion: 1,
    identifiers: null,
    integrity: null,
    imaging: imagingView(imaging),
    ...over,
  };
}
