// The relay's operator endpoints (/, /v1/status in full, /metrics) share the
// vendor-facing HTTP port: they list every hospital, agent addresses, feeds,
// ledger heads, revocation reasons and every vendor's cursors. Against a real
// relay process: without the operator token they answer 401 (with none
// configured, to everyone); a vendor key on /v1/status shows that vendor's own
// grants and cursors only; /healthz and /readyz stay public. And a valid vendor
// key without a grant is told so with its own code, not the unknown key's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp-dir.js';
import { RH_FEED, RH_READER_KEY, RH_UNGRANTED_KEY, SeededRelay, jsonEvent, relayDir } from '../support/seeded-relay.js';
import type { AgentStream } from '../integration/relay-harness.js';

const OPERATOR_TOKEN = 'relay-operator-token-0123456789';
const OPERATOR_PATHS = ['/', '/status', '/v1/status', '/metrics'];

interface ErrorBody {
  error: { code: string; message: string };
}

describe('relay operator endpoints and vendor-own status', () => {
  const dir = makeTempDir('wardline-relay-operator-');
  let relay: SeededRelay | undefined;
  let agent: AgentStream | undefined;
  afterAll(() => dir.remove());
  afterEach(async () => {
    agent?.end();
    await relay?.stop();
    relay = undefined;
  });

  const get = (path: string, authorization?: string) => fetch(`${relay!.httpBase}${path}`, { headers: authorization ? { authorization } : {} });

  it('closes /, /v1/status and /metrics to everyone when no operator token is configured; health stays public', async () => {
    relay = await SeededRelay.start(relayDir(dir.path, 'closed'), { events: [jsonEvent(1, 100)] });
    agent = await relay.agent(); // so there is an agent address to leak
    for (const path of OPERATOR_PATHS) {
      const response = await get(path);
      expect(response.status, path).toBe(401);
      expect(response.headers.get('www-authenticate'), path).toMatch(/^Basic realm="wardline-relay-operator"/);
      const text = await response.text();
      expect(JSON.parse(text) as ErrorBody, path).toEqual({ error: { code: 'WL_OPERATOR_AUTH_REQUIRED', message: expect.stringContaining('http.operatorTokenFile') } });
      expect(text, path).not.toMatch(/127\.0\.0\.1|"h1"|neighbour/);
    }
    // A vendor key opens none of the operator views, and a guessed token nothing.
    for (const path of ['/', '/metrics']) expect((await get(path, `Bearer ${RH_READER_KEY}`)).status, path).toBe(401);
    expect((await get('/v1/status', 'Bearer not-a-token-anyone-has-00')).status).toBe(401);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
  });

  it("shows a vendor key its own grants and cursors on /v1/status, nothing of other vendors, hospitals or agents", async () => {
    relay = await SeededRelay.start(relayDir(dir.path, 'vendor-own'), { events: [jsonEvent(1, 100), jsonEvent(2, 100)] });
    agent = await relay.agent();
    expect((await get(`/v1/feeds/${RH_FEED}/events?after=0&limit=1`, `Bearer ${RH_READER_KEY}`)).status).toBe(200);
    const response = await get('/v1/status', `Bearer ${RH_READER_KEY}`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const own = JSON.parse(text) as Record<string, any>;
    expect(Object.keys(own).sort()).toEqual(['protocolVersion', 'relayId', 'vendor', 'version']);
    expect(own.vendor).toEqual({
      vendor: 'reader',
      feeds: [expect.objectContaining({ hospital: 'h1', feed: RH_FEED, cursor: 1, highWaterSeq: 2, unreadEvents: 1, api: 'http' })],
    });
    expect(text).not.toMatch(/127\.0\.0\.1|neighbour|ungranted|connectedAgents|ledgerHeads|revokedFeeds/);
  });

  it('opens every operator endpoint with the operator token, as a bearer token or as the HTTP Basic password', async () => {
    const tokenDir = relayDir(dir.path, 'token');
    writeFileSync(join(tokenDir, 'operator-token'), `${OPERATOR_TOKEN}\n`, { mode: 0o600 });
    relay = await SeededRelay.start(tokenDir, { events: [jsonEvent(1, 100)], config: { http: { operatorTokenFile: 'operator-token' } } });
    agent = await relay.agent();
    const bearer = `Bearer ${OPERATOR_TOKEN}`;
    const basic = `Basic ${Buffer.from(`operator:${OPERATOR_TOKEN}`).toString('base64')}`;
    for (const authorization of [bearer, basic]) {
      const page = await get('/', authorization);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-hospital="h1"');
      const status = (await (await get('/v1/status', authorization)).json()) as Record<string, any>;
      expect(status.connectedAgents).toEqual([expect.objectContaining({ hospital: 'h1', peer: expect.stringContaining('127.0.0.1') })]);
      expect(status.vendors.map((v: { vendor: string }) => v.vendor)).toEqual(['reader', 'neighbour', 'ungranted']);
      expect(await (await get('/metrics', authorization)).text()).toContain('wardline_relay_feed_high_water_seq{hospital="h1",feed="clinical"} 1');
    }
    const wrong = await get('/metrics', `Bearer ${OPERATOR_TOKEN.slice(0, -1)}x`);
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as ErrorBody).error.message).toContain('operator token required');
  });

  it('gives a valid key without a grant its own code: 403 WL_FEED_NOT_GRANTED, gRPC PERMISSION_DENIED; an unknown key 401 WL_BAD_VENDOR_KEY', async () => {
    relay = await SeededRelay.start(relayDir(dir.path, 'no-grant'), { events: [jsonEvent(1, 100)] });
    const ungranted = await get(`/v1/feeds/${RH_FEED}/events`, `Bearer ${RH_UNGRANTED_KEY}`);
    expect(ungranted.status).toBe(403);
    expect(((await ungranted.json()) as ErrorBody).error).toEqual({ code: 'WL_FEED_NOT_GRANTED', message: `vendor "ungranted" is not granted feed "${RH_FEED}"` });
    const unknown = await get(`/v1/feeds/${RH_FEED}/events`, 'Bearer not-a-key-anyone-was-given-00');
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as ErrorBody).error.code).toBe('WL_BAD_VENDOR_KEY');

    const client = relay.feedsClient();
    const grpcUngranted = await relay.subscribe(client, RH_UNGRANTED_KEY, { feed: RH_FEED }).status;
    expect(grpcUngranted.code).toBe(Status.PERMISSION_DENIED);
    expect(grpcUngranted.details).toMatch(/^WL_FEED_NOT_GRANTED: /);
    expect(grpcUngranted.metadata.get('wardline-error-code')).toEqual(['WL_FEED_NOT_GRANTED']);
    const grpcUnknown = await relay.subscribe(client, 'not-a-key-anyone-was-given-00', { feed: RH_FEED }).status;
    expect(grpcUnknown.code).toBe(Status.UNAUTHENTICATED);
    expect(grpcUnknown.details).toMatch(/^WL_BAD_VENDOR_KEY: /);
  });
});
