// The relay's per-vendor view: cursors from reads, lag behind each granted
// feed's head, and the status page that shows them.
import { describe, expect, it } from 'vitest';
import { VendorReads } from '../../cloud-relay/feeds/vendor-reads.js';
import { buildRelayStatus } from '../../cloud-relay/status/relay-status.js';
import { renderRelayStatusPage } from '../../cloud-relay/status/relay-status-page.js';
import { buildVendorStatus } from '../../cloud-relay/status/vendor-status.js';

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
      { vendor: 'platform', hospital: 'h1', feed: 'adt', cursor: 90, lastReadAtMs: T0 + 5_000, api: 'http', openSubscriptions: 0 },
      { vendor: 'platform', hospital: 'h1', feed: 'results', cursor: 12, lastReadAtMs: T0 + 5_000, api: 'grpc', openSubscriptions: 1 },
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
          { hospital: 'h1', feed: 'adt', cursor: 90, highWaterSeq: 120, behindSeq: 30, unreadEvents: 25, unreadCapped: false, lagSeconds: 30, lastReadAt: '2026-11-21T08:00:00.000Z', api: 'http', openSubscriptions: 0 },
          { hospital: 'h1', feed: 'results', cursor: null, highWaterSeq: 7, behindSeq: null, unreadEvents: null, unreadCapped: false, lagSeconds: null, lastReadAt: null, api: null, openSubscriptions: 0 },
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
});
