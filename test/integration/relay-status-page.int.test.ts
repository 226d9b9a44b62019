// The relay's status page, /v1/status vendor section, /readyz and /metrics,
// against a real relay: hospitals with their agents and feeds, and each vendor
// key's cursor and lag, as HTTP and gRPC reads move them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAgent, makeBatch, makeEvents, OPERATOR_HEADERS, TestRelay, VENDOR_KEYS } from './relay-harness.js';

describe('relay status page, vendor lag, readiness and metrics', () => {
  const relay = new TestRelay();

  beforeAll(async () => {
    await relay.start();
    const { stream } = await connectAgent(relay, 'h1', ['adt', 'results']);
    expect((await stream.exchange(makeBatch('adt', 1, 10))).body).toBe('ack');
    expect((await stream.exchange(makeBatch('results', 1, 12, makeEvents(11, 12).map((e) => ({ ...e, stream: 'results' }))))).body).toBe('ack');
  });

  afterAll(() => relay.close());

  const json = async (path: string) => (await fetch(`${relay.httpBase}${path}`, { headers: OPERATOR_HEADERS })).json() as Promise<Record<string, any>>;

  it('tracks each vendor key\'s cursor and lag behind the head, over HTTP and gRPC', async () => {
    const page = await fetch(`${relay.httpBase}/v1/feeds/adt/events?after=0&limit=4&hospital=h1`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
    expect(page.status).toBe(200);
    expect((await page.text()).trim().split('\n')).toHaveLength(4);

    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'results', hospitalId: 'h1', follow: true });
    await subscription.next();
    await subscription.next();
    // The cursor is recorded once the page is written.
    await new Promise((r) => setTimeout(r, 200));

    const status = await json('/v1/status');
    const platform = status.vendors.find((v: { vendor: string }) => v.vendor === 'platform');
    const adt = platform.feeds.find((f: { hospital: string; feed: string }) => f.hospital === 'h1' && f.feed === 'adt');
    expect(adt).toMatchObject({ cursor: 4, highWaterSeq: 10, behindSeq: 6, unreadEvents: 6, unreadCapped: false, api: 'http', openSubscriptions: 0 });
    expect(adt.lagSeconds).toBeGreaterThanOrEqual(0);
    const results = platform.feeds.find((f: { feed: string; hospital: string }) => f.hospital === 'h1' && f.feed === 'results');
    expect(results).toMatchObject({ cursor: 12, highWaterSeq: 12, unreadEvents: 0, lagSeconds: 0, api: 'grpc', openSubscriptions: 1 });
    // Granted but never read since the relay started.
    const app = status.vendors.find((v: { vendor: string }) => v.vendor === 'app');
    expect(app.feeds).toEqual([expect.objectContaining({ hospital: 'h2', feed: 'appointments', cursor: null, unreadEvents: null })]);

    subscription.call.cancel();
    await new Promise((r) => setTimeout(r, 200));
    const after = await json('/v1/status');
    expect(after.vendors[0].feeds.find((f: { feed: string; hospital: string }) => f.hospital === 'h1' && f.feed === 'results').openSubscriptions).toBe(0);
  });

  it('serves a status page with agents, last batch, high-water marks, sizes and vendor cursors', async () => {
    const response = await fetch(`${relay.httpBase}/`, { headers: OPERATOR_HEADERS });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('Hospital One');
    expect(html).toMatch(/data-hospital="h1">[\s\S]*1 agent connected/);
    expect(html).toMatch(/data-feed="adt">adt<\/span><\/td><td class="num"><span data-figure="high-water">10<\/span><\/td><td class="num"><span data-figure="events">10</);
    expect(html).toMatch(/data-vendor="platform"[\s\S]*<span data-figure="cursor">4<\/span>/);
    expect(html).toContain('not read yet');
    // No event content on the page: keys and bodies stay out.
    expect(html).not.toMatch(/P100\d|MSH\|/);
  });

  it('is ready while the store answers and gRPC listens', async () => {
    const response = await fetch(`${relay.httpBase}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ready: true, checks: [{ name: 'store', ok: true, detail: null }, { name: 'grpc', ok: true, detail: null }] });
  });

  it('exports the same figures as Prometheus metrics, by convention, without identifiers in labels', async () => {
    const text = await (await fetch(`${relay.httpBase}/metrics`, { headers: OPERATOR_HEADERS })).text();
    expect(text).toContain('wardline_relay_feed_high_water_seq{hospital="h1",feed="adt"} 10');
    expect(text).toContain('wardline_relay_feed_events{hospital="h1",feed="results"} 2');
    expect(text).toContain('wardline_relay_vendor_cursor_seq{vendor="platform",consumer="",hospital="h1",feed="adt"} 4');
    expect(text).toContain('wardline_relay_vendor_lag_events{vendor="platform",consumer="",hospital="h1",feed="adt"} 6');
    expect(text).toContain('wardline_relay_hospital_agents_connected{hospital="h1"} 1');
    for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE '))) {
      const [, , name, type] = line.split(' ');
      // Wardline's own metrics carry the program's prefix; Node's and the process's keep their standard names.
      expect(name).toMatch(/^(wardline_relay_|process_|nodejs_)[a-z0-9_]+$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
    }
    expect(text).not.toMatch(/P100\d|MSG\d/);
  });
});
