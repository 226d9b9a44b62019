// The relay's per-vendor view: cursors from reads, lag behind each granted
// feed's head, and the status page that shows them.
import { describe, expect, it } from 'vitest';
import { furthestReadPerKey, VendorReads } from '../../cloud-relay/feeds/vendor-reads.js';
import { buildRelayStatus } from '../../cloud-relay/status/relay-status.js';
import { renderRelayStatusPage } from '../../cloud-relay/status/relay-status-page.js';
import { buildVendorStatus, statusCursors } from '../../cloud-relay/status/vendor-status.js';

const T0 = Date.parse('2026-11-21T08:00:00Z');

describe('vendor status', () => {
  it('keeps the last cursor per vendor, hospital and feed, and counts live subscriptions', () => {
    let now = T0;
    const reads = new VendorReads(() => now);
    reads.record('platform', 'h1', 'adt', 40, 'http');
    now += 5_000;
    reads.record('platform', 'h1', 'adt', 90, 'http');
    reads.subscription('platform', 'h1', 'results', 0, 1);
    reads.record('platform', 'h1', 'results', 12, 'grpc');
    expect(reads.all()).toEqual([
      { vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: '', cursor: 90, lastReadAtMs: T0 + 5_000, api: 'http', openSubscriptions: 0 },
      { vendor: 'platform', hospital: 'h1', feed: 'results', consumer: '', cursor: 12, lastReadAtMs: T0 + 5_000, api: 'grpc', openSubscriptions: 1 },
    ]);
    reads.subscription('platform', 'h1', 'results', 0, -1);
    reads.subscription('platform', 'h1', 'results', 0, -1);
    expect(reads.all()[1]!.openSubscriptions).toBe(0);
  });

  it('reports every granted feed, with how far behind the head each read is', () => {
    const reads = new VendorReads(() => T0);
    reads.record('platform', 'h1', 'adt', 90, 'http');
    const vendors = buildVendorStatus({
      nowMs: T0 + 60_000,
      vendors: [{ name: 'platform', grants: [{ hospital: 'h1', feeds: ['adt', 'results'] }] }],
      reads: reads.all(),
      highWater: (_h, feed) => (feed === 'adt' ? 120 : 7),
      unread: () => ({ events: 25, capped: false, oldestStoredAtMs: T0 + 30_000 }),
    });
    expect(vendors).toEqual([
      {
        vendor: 'platform',
        feeds: [
          { hospital: 'h1', feed: 'adt', consumer: '', cursor: 90, committedCursor: null, committedAt: null, highWaterSeq: 120, cursorState: 'in-range', behindSeq: 30, unreadEvents: 25, unreadCapped: false, lagSeconds: 30, lastReadAt: '2026-11-21T08:00:00.000Z', api: 'http', openSubscriptions: 0 },
          { hospital: 'h1', feed: 'results', consumer: '', cursor: null, committedCursor: null, committedAt: null, highWaterSeq: 7, cursorState: 'not-read', behindSeq: null, unreadEvents: null, unreadCapped: false, lagSeconds: null, lastReadAt: null, api: null, openSubscriptions: 0 },
        ],
      },
    ]);
  });

  it('renders the status page with escaped names and no script', () => {
    const status = buildRelayStatus({
      relayId: 'relay-1',
      startedAtMs: T0,
      nowMs: T0 + 3_600_000,
      hospitals: [{ id: 'h1', name: '<b>人民医院</b>' }],
      agents: [],
      feeds: [{ hospital: 'h1', feed: 'adt', highWaterSeq: 1200, events: 1100, updatedAtMs: T0 + 3_000_000, retentionFloorSeq: 0, oldestSeq: 1 }],
      vendors: [{ vendor: 'platform', feeds: [] }],
    });
    const html = renderRelayStatusPage(status, T0 + 3_600_000);
    expect(html).toContain('&lt;b&gt;人民医院&lt;/b&gt;');
    expect(html).not.toContain('<script');
    expect(html).toContain('0 agents connected');
    expect(html).toMatch(/<span data-figure="high-water">1,200<\/span>/);
    expect(html).toContain('last batch <span data-figure="last-batch">2026-11-21T08:50:00.000Z (10 min ago)</span>');
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
  });

  it('shows one row per consumer: the unnamed reads first, then each named one with its committed cursor; a committed-only consumer lags from its commit', () => {
    let now = T0;
    const reads = new VendorReads(() => now);
    reads.record('platform', 'h1', 'adt', 50, 'http');
    now += 1_000;
    reads.record('platform', 'h1', 'adt', 80, 'grpc', 'billing');
    const committed = [
      { vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 70, committedAtMs: T0 + 2_000 },
      { vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'archive', cursor: 20, committedAtMs: T0 + 3_000 },
    ];
    const asked: number[] = [];
    const vendors = buildVendorStatus({
      nowMs: T0 + 10_000,
      vendors: [{ name: 'platform', grants: [{ hospital: 'h1', feeds: ['adt'] }] }],
      reads: reads.all(),
      committed,
      highWater: () => 100,
      unread: (_h, _f, after) => (asked.push(after), { events: 100 - after, capped: false, oldestStoredAtMs: T0 }),
    });
    expect(vendors[0]!.feeds.map((f) => [f.consumer, f.cursor, f.committedCursor, f.cursorState, f.behindSeq, f.api])).toEqual([
      ['', 50, null, 'in-range', 50, 'http'],
      ['archive', null, 20, 'in-range', 80, null],
      ['billing', 80, 70, 'in-range', 20, 'grpc'],
    ]);
    expect(vendors[0]!.feeds[1]!.committedAt).toBe('2026-11-21T08:00:03.000Z');
    // The store is asked beforehand for exactly the cursors the build uses.
    expect(statusCursors(reads.all(), committed).map((c) => c.cursor).sort()).toEqual([...asked].sort());
  });

  it('shows a cursor past the head as an error, never as caught up, on the page too', () => {
    const reads = new VendorReads(() => T0);
    reads.record('platform', 'h1', 'adt', 150, 'http', 'stale');
    const vendors = buildVendorStatus({
      nowMs: T0,
      vendors: [{ name: 'platform', grants: [{ hospital: 'h1', feeds: ['adt', 'results'] }] }],
      reads: reads.all(),
      committed: [{ vendor: 'platform', hospital: 'h1', feed: 'results', consumer: 'old', cursor: 9, committedAtMs: T0 }],
      highWater: (_h, feed) => (feed === 'adt' ? 100 : 5),
      unread: () => ({ events: 0, capped: false, oldestStoredAtMs: null }),
    });
    expect(vendors[0]!.feeds.map((f) => [f.feed, f.consumer, f.cursorState, f.behindSeq, f.unreadEvents, f.lagSeconds])).toEqual([
      ['adt', 'stale', 'ahead-of-head', null, null, null],
      ['results', 'old', 'ahead-of-head', null, null, null],
    ]);
    const status = buildRelayStatus({ relayId: 'relay-1', startedAtMs: T0, nowMs: T0, hospitals: [{ id: 'h1' }], agents: [], feeds: [], vendors });
    const html = renderRelayStatusPage(status, T0);
    expect(html).toContain('<span class="bad" data-figure="cursor-state">ahead of head (150 &gt; 100)</span>');
    expect(html).toContain('<span data-consumer="stale">stale</span>');
    expect(html).not.toMatch(/data-figure="unread">0</);
  });

  it("gives the agent one position per vendor key: the furthest of the key's consumers, at the latest read", () => {
    let now = T0;
    const reads = new VendorReads(() => now);
    reads.record('platform', 'h1', 'adt', 90, 'http', 'fast');
    now += 1_000;
    reads.record('platform', 'h1', 'adt', 40, 'grpc');
    reads.record('app', 'h1', 'adt', 3, 'http', 'one');
    expect(furthestReadPerKey(reads.all()).map((r) => [r.vendor, r.feed, r.consumer, r.cursor, r.lastReadAtMs, r.api])).toEqual([
      ['app', 'adt', '', 3, T0 + 1_000, 'http'],
      ['platform', 'adt', '', 90, T0 + 1_000, 'grpc'],
    ]);
  });
});
