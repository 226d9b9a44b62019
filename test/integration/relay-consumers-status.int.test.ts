// Named consumers on the relay's status, against a real relay: two consumers of
// one vendor key are two rows (beside the key's unnamed reads) in /v1/status,
// on the page and in /metrics; a committed cursor survives a relay restart; a
// cursor stored past the feed's head (from before cursors were range-checked,
// or an older copy of the feed) is an error, never "behind 0"; a vendor key's
// own /v1/status shows its consumers and nobody else's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayDatabaseFile, SqliteVendorCursorStore } from '../../cloud-relay/store/index.js';
import { connectAgent, makeBatch, OPERATOR_HEADERS, TestRelay, VENDOR_KEYS } from './relay-harness.js';

type Row = { hospital: string; feed: string; consumer: string; cursor: number | null; committedCursor: number | null; cursorState: string; behindSeq: number | null; unreadEvents: number | null };

describe('named consumers on the relay status', () => {
  const relay = new TestRelay();
  const platform = { vendor: 'platform', hospital: 'h1', feed: 'adt' };

  beforeAll(async () => {
    await relay.start();
    const { stream } = await connectAgent(relay, 'h1', ['adt', 'results']);
    expect((await stream.exchange(makeBatch('adt', 1, 10))).body).toBe('ack');
    stream.end();
  });

  afterAll(() => relay.close());

  const json = async (path: string, headers: Record<string, string> = OPERATOR_HEADERS) => (await fetch(`${relay.httpBase}${path}`, { headers })).json() as Promise<Record<string, any>>;
  const rowsOf = async (vendor: string, feed: string): Promise<Row[]> => ((await json('/v1/status')).vendors.find((v: { vendor: string }) => v.vendor === vendor).feeds as Row[]).filter((f) => f.hospital === 'h1' && f.feed === feed);

  it("shows two consumers of one key apart from its unnamed reads, with committed and last read cursors and each one's lag", async () => {
    const page = await fetch(`${relay.httpBase}/v1/feeds/adt/events?after=0&limit=8&hospital=h1`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
    expect(page.status).toBe(200);
    await page.text();
    await relay.relay!.consumers.commit(platform, 'billing', 6);
    await relay.relay!.consumers.commit(platform, 'archive', 2);
    const rows = await rowsOf('platform', 'adt');
    expect(rows.map((r) => [r.consumer, r.cursor, r.committedCursor, r.cursorState, r.behindSeq, r.unreadEvents])).toEqual([
      ['', 8, null, 'in-range', 2, 2],
      ['archive', null, 2, 'in-range', 8, 8],
      ['billing', null, 6, 'in-range', 4, 4],
    ]);
    // A granted feed nobody read: one unnamed row, not read yet.
    expect((await rowsOf('platform', 'results')).map((r) => [r.consumer, r.cursorState])).toEqual([['', 'not-read']]);

    const html = await (await fetch(`${relay.httpBase}/`, { headers: OPERATOR_HEADERS })).text();
    const section = html.slice(html.indexOf('data-vendor="platform"'));
    expect(section).toContain('<span class="muted" data-consumer="">(unnamed)</span>');
    expect(section).toMatch(/<span data-consumer="archive">archive<\/span>[\s\S]*?<span data-figure="committed">2<\/span>/);
    expect(section).toMatch(/<span data-consumer="billing">billing<\/span>[\s\S]*?<span data-figure="committed">6<\/span>/);

    const metrics = await (await fetch(`${relay.httpBase}/metrics`, { headers: OPERATOR_HEADERS })).text();
    expect(metrics).toContain('wardline_relay_vendor_committed_cursor_seq{vendor="platform",consumer="billing",hospital="h1",feed="adt"} 6');
    expect(metrics).toContain('wardline_relay_vendor_committed_cursor_seq{vendor="platform",consumer="archive",hospital="h1",feed="adt"} 2');
    expect(metrics).toContain('wardline_relay_vendor_cursor_seq{vendor="platform",consumer="",hospital="h1",feed="adt"} 8');
    expect(metrics).toContain('wardline_relay_vendor_cursor_ahead_of_head{vendor="platform",consumer="billing",hospital="h1",feed="adt"} 0');
  });

  it("shows a vendor key its own consumers on its /v1/status, nobody else's", async () => {
    await relay.relay!.consumers.commit({ vendor: 'app', hospital: 'h2', feed: 'appointments' }, 'mobile', 0);
    const own = await json('/v1/status', { authorization: `Bearer ${VENDOR_KEYS.platform}` });
    expect(own.vendor.vendor).toBe('platform');
    expect((own.vendor.feeds as Row[]).filter((f) => f.feed === 'adt').map((f) => f.consumer)).toEqual(['', 'archive', 'billing']);
    expect(JSON.stringify(own)).not.toContain('mobile');
    const app = await json('/v1/status', { authorization: `Bearer ${VENDOR_KEYS.app}` });
    expect((app.vendor.feeds as Row[]).map((f) => [f.consumer, f.committedCursor])).toEqual([['mobile', 0]]);
  });

  it('keeps committed cursors across a relay restart, and answers a read naming the consumer from them', async () => {
    await relay.restart();
    expect(await relay.relay!.consumers.startCursor(platform, 'billing')).toBe(6);
    expect((await relay.relay!.consumers.get(platform, 'archive')).cursor).toBe(2);
    const rows = await rowsOf('platform', 'adt');
    expect(rows.map((r) => [r.consumer, r.cursor, r.committedCursor])).toEqual([['', 8, null], ['archive', null, 2], ['billing', null, 6]]);
  });

  it('shows a stored cursor past the head as an error on /v1/status, the page and /metrics, never as caught up', async () => {
    await relay.relay!.stop();
    // Cursors stored before this relay's feed store was restored from an older copy (head 10).
    const cursors = SqliteVendorCursorStore.open({ file: relayDatabaseFile(relay.dataDir) });
    await cursors.save([{ ...platform, consumer: 'stale', cursor: 500, lastReadAtMs: Date.now(), api: 'grpc' }]);
    await cursors.commit({ ...platform, consumer: 'billing', cursor: 40, committedAtMs: Date.now() });
    cursors.close();
    await relay.start();
    const rows = await rowsOf('platform', 'adt');
    expect(rows.find((r) => r.consumer === 'stale')).toMatchObject({ cursor: 500, cursorState: 'ahead-of-head', behindSeq: null, unreadEvents: null });
    expect(rows.find((r) => r.consumer === 'billing')).toMatchObject({ committedCursor: 40, cursorState: 'ahead-of-head', behindSeq: null });
    expect(rows.find((r) => r.consumer === 'archive')).toMatchObject({ cursorState: 'in-range', behindSeq: 8 });

    const html = await (await fetch(`${relay.httpBase}/`, { headers: OPERATOR_HEADERS })).text();
    expect(html).toMatch(/data-consumer="stale">stale<\/span>[\s\S]*?<span class="bad" data-figure="cursor-state">ahead of head \(500 &gt; 10\)<\/span>/);
    expect(html).toMatch(/data-consumer="billing">billing<\/span>[\s\S]*?<span class="bad" data-figure="cursor-state">ahead of head \(40 &gt; 10\)<\/span>/);
    const metrics = await (await fetch(`${relay.httpBase}/metrics`, { headers: OPERATOR_HEADERS })).text();
    expect(metrics).toContain('wardline_relay_vendor_cursor_ahead_of_head{vendor="platform",consumer="stale",hospital="h1",feed="adt"} 1');
    expect(metrics).not.toContain('wardline_relay_vendor_lag_events{vendor="platform",consumer="stale"');

    // The vendor fixes it by committing a cursor the feed gave it; one past the head is refused.
    await expect(relay.relay!.consumers.commit(platform, 'billing', 11)).rejects.toMatchObject({ code: 'WL_CURSOR_AHEAD' });
    await relay.relay!.consumers.commit(platform, 'billing', 10);
    expect((await rowsOf('platform', 'adt')).find((r) => r.consumer === 'billing')).toMatchObject({ committedCursor: 10, cursorState: 'in-range', behindSeq: 0 });
    // Removing a consumer drops its row at once.
    expect(await relay.relay!.consumers.remove(platform, 'stale')).toBe(true);
    expect((await rowsOf('platform', 'adt')).map((r) => r.consumer)).toEqual(['', 'archive', 'billing']);
  });
});
