// Vendor isolation at the relay: a vendor key reads exactly the (hospital, feed)
// pairs the hospitals granted it, over HTTP and gRPC alike. Two hospitals hold a
// feed of the same name, and one holds a second feed; every other path to data a
// key was not granted is refused with a precise status, and no refusal carries
// any of that data.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { HOSPITAL_HEADER, RelayErrorCode, parseRelayConfig, startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { ErrorCode, FeedsService, ReplicationService, pb, type AgentMessage, type FeedEvent, type RelayMessage, type SubscribeRequest } from '../../protocol/index.js';
import { AgentStream, SECRETS, Subscription, makeBatch, makeEvent } from './relay-harness.js';
import { makeTempDir } from '../support/temp-dir.js';

const KEYS = {
  /** Granted clinical at h1. */
  h1Clinical: 'iso-h1-clinical-key-000001',
  /** Granted clinical at h2. */
  h2Clinical: 'iso-h2-clinical-key-000002',
  /** Granted research at h1. */
  h1Research: 'iso-h1-research-key-000003',
} as const;

/** Every event body and key carries its hospital and feed, so a leak is visible in any response. */
const marker = (hospital: string, feed: string, seq: number) => `${hospital.toUpperCase()}-${feed}-${seq}`;

describe('vendor isolation (HTTP and gRPC)', () => {
  const temp = makeTempDir('wardline-isolation-');
  const clients: grpc.Client[] = [];
  let relay: RelayHandle;

  beforeAll(async () => {
    relay = await startRelay(
      parseRelayConfig({
        dataDir: temp.path,
        grpc: { listen: '127.0.0.1:0' },
        http: { listen: '127.0.0.1:0' },
        allowPlaintext: true,
        hospitals: [
          { id: 'h1', secret: SECRETS.h1 },
          { id: 'h2', secret: SECRETS.h2 },
        ],
        vendors: [
          { name: 'h1-clinical', key: KEYS.h1Clinical, grants: [{ hospital: 'h1', feeds: ['clinical'] }] },
          { name: 'h2-clinical', key: KEYS.h2Clinical, grants: [{ hospital: 'h2', feeds: ['clinical'] }] },
          { name: 'h1-research', key: KEYS.h1Research, grants: [{ hospital: 'h1', feeds: ['research'] }] },
        ],
        log: { level: 'silent' },
      }),
      { logger: pino({ level: 'silent' }), shutdownGraceMs: 1_000 },
    );
    // h1 sends clinical and research; h2 sends clinical: the same feed name at two hospitals.
    for (const [hospital, feeds] of [['h1', ['clinical', 'research']], ['h2', ['clinical']]] as const) {
      const stream = agentStream();
      stream.hello(hospital, [...feeds]);
      expect((await stream.next()).body).toBe('welcome');
      for (const feed of feeds) {
        const events = [1, 2, 3].map((seq) => makeEvent(seq, { key: marker(hospital, feed, seq), body: Buffer.from(`body of ${marker(hospital, feed, seq)}`) }));
        expect((await stream.exchange(makeBatch(feed, 1, 3, events))).body).toBe('ack');
      }
      stream.end();
      await stream.status;
    }
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await relay?.stop();
    temp.remove();
  });

  function agentStream(): AgentStream {
    const client = new (grpc.makeGenericClientConstructor(ReplicationService, 'Replication'))(`127.0.0.1:${relay.grpcPort}`, grpc.credentials.createInsecure());
    clients.push(client);
    return new AgentStream((client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate());
  }

  function subscribe(key: string, request: { feed: string; hospitalId?: string }): Subscription {
    const client = new (grpc.makeGenericClientConstructor(FeedsService, 'Feeds'))(`127.0.0.1:${relay.grpcPort}`, grpc.credentials.createInsecure());
    clients.push(client);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${key}`);
    const call = (client as unknown as { subscribe(r: SubscribeRequest, m: grpc.Metadata): grpc.ClientReadableStream<FeedEvent> }).subscribe(
      pb.SubscribeRequest.create(request),
      metadata,
    );
    return new Subscription(call);
  }

  /** All events of a Subscribe without follow, and its final status. */
  async function subscribeAll(key: string, request: { feed: string; hospitalId?: string }): Promise<{ keys: string[]; status: grpc.StatusObject }> {
    const subscription = subscribe(key, request);
    const keys: string[] = [];
    subscription.call.on('data', (event: FeedEvent) => keys.push(event.event?.key ?? ''));
    return { keys, status: await subscription.status };
  }

  async function get(path: string, key: string): Promise<{ status: number; hospital: string | null; text: string }> {
    const response = await fetch(`http://127.0.0.1:${relay.httpPort}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: response.status, hospital: response.headers.get(HOSPITAL_HEADER), text: await response.text() };
  }

  const keysOf = (ndjson: string) => (ndjson === '' ? [] : ndjson.trimEnd().split('\n').map((line) => (JSON.parse(line) as { key: string }).key));
  const errorOf = (text: string) => (JSON.parse(text) as { error: { code: string; message: string } }).error;

  it("serves each key its own hospital's feed, never the other hospital's feed of the same name", async () => {
    const h1 = await get('/v1/feeds/clinical/events', KEYS.h1Clinical);
    expect(h1).toMatchObject({ status: 200, hospital: 'h1' });
    expect(keysOf(h1.text)).toEqual(['H1-clinical-1', 'H1-clinical-2', 'H1-clinical-3']);
    const h2 = await get('/v1/feeds/clinical/events', KEYS.h2Clinical);
    expect(h2).toMatchObject({ status: 200, hospital: 'h2' });
    expect(keysOf(h2.text)).toEqual(['H2-clinical-1', 'H2-clinical-2', 'H2-clinical-3']);

    const viaGrpc1 = await subscribeAll(KEYS.h1Clinical, { feed: 'clinical' });
    expect(viaGrpc1).toEqual({ keys: ['H1-clinical-1', 'H1-clinical-2', 'H1-clinical-3'], status: expect.objectContaining({ code: grpc.status.OK }) });
    const viaGrpc2 = await subscribeAll(KEYS.h2Clinical, { feed: 'clinical' });
    expect(viaGrpc2.keys).toEqual(['H2-clinical-1', 'H2-clinical-2', 'H2-clinical-3']);
  });

  it("refuses a key asking for another hospital's feed of the same name: 403 and PERMISSION_DENIED", async () => {
    const http = await get('/v1/feeds/clinical/events?hospital=h2', KEYS.h1Clinical);
    expect(http.status).toBe(403);
    expect(errorOf(http.text)).toEqual({ code: RelayErrorCode.FEED_NOT_GRANTED, message: 'vendor "h1-clinical" is not granted feed "clinical" at hospital "h2"' });

    const viaGrpc = await subscribeAll(KEYS.h1Clinical, { feed: 'clinical', hospitalId: 'h2' });
    expect(viaGrpc.keys).toEqual([]);
    expect(viaGrpc.status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(viaGrpc.status.details).toBe(`${RelayErrorCode.FEED_NOT_GRANTED}: vendor "h1-clinical" is not granted feed "clinical" at hospital "h2"`);
  });

  it("refuses a key asking for another feed of its own hospital: 403 and PERMISSION_DENIED", async () => {
    for (const path of ['/v1/feeds/research/events', '/v1/feeds/research/events?hospital=h1']) {
      const http = await get(path, KEYS.h1Clinical);
      expect(http.status, path).toBe(403);
      expect(errorOf(http.text).message, path).toMatch(/^vendor "h1-clinical" is not granted feed "research"( at hospital "h1")?$/);
    }
    for (const request of [{ feed: 'research' }, { feed: 'research', hospitalId: 'h1' }]) {
      const viaGrpc = await subscribeAll(KEYS.h1Clinical, request);
      expect(viaGrpc.keys).toEqual([]);
      expect(viaGrpc.status.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(viaGrpc.status.details).toMatch(/vendor "h1-clinical" is not granted feed "research"/);
    }
    // And the other way round: the research key cannot read clinical.
    expect((await get('/v1/feeds/clinical/events', KEYS.h1Research)).status).toBe(403);
    expect((await subscribeAll(KEYS.h1Research, { feed: 'clinical' })).status.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('answers an unknown hospital exactly like an existing one it was not granted, so ids cannot be probed', async () => {
    const existing = errorOf((await get('/v1/feeds/clinical/events?hospital=h2', KEYS.h1Clinical)).text).message;
    const unknown = errorOf((await get('/v1/feeds/clinical/events?hospital=h9', KEYS.h1Clinical)).text).message;
    expect(unknown).toBe(existing.replace('"h2"', '"h9"'));
  });

  it("gives no path to another hospital's data: every variant is refused and no response carries it", async () => {
    const attempts = [
      '/v1/feeds/clinical/events?hospital=h1&hospital=h2',
      '/v1/feeds/clinical/events?hospital=h2&hospital=h1',
      '/v1/feeds/clinical/events?hospital=H2',
      '/v1/feeds/clinical/events?hospital=h2%00',
      '/v1/feeds/clinical/events?hospital=h1%2Fh2',
      '/v1/feeds/Clinical/events?hospital=h2',
      '/v1/feeds/clinical%3Fhospital%3Dh2/events',
      '/v1/feeds/..%2Fh2%2Fclinical/events',
      '/v1/feeds/clinical/events/../../h2/clinical/events',
      '/v1/feeds/research/events?hospital=h2',
    ];
    for (const path of attempts) {
      const response = await get(path, KEYS.h1Clinical);
      expect([400, 403, 404], `${path} answered ${response.status}`).toContain(response.status);
      expect(response.text, path).not.toMatch(/H2-/);
      expect(response.hospital, path).toBeNull();
    }
    for (const hospitalId of ['h2', 'H2', 'h1,h2', '*', 'h2\0']) {
      const viaGrpc = await subscribeAll(KEYS.h1Clinical, { feed: 'clinical', hospitalId });
      expect(viaGrpc.keys, hospitalId).toEqual([]);
      expect([grpc.status.PERMISSION_DENIED, grpc.status.INVALID_ARGUMENT], hospitalId).toContain(viaGrpc.status.code);
      expect(viaGrpc.status.details).not.toMatch(/H2-/);
    }
  });

  it('refuses an unknown key with 401 and UNAUTHENTICATED, whatever feed or hospital it names', async () => {
    expect((await get('/v1/feeds/clinical/events?hospital=h2', 'iso-not-a-key-0000000000')).status).toBe(401);
    const viaGrpc = await subscribeAll('iso-not-a-key-0000000000', { feed: 'clinical', hospitalId: 'h2' });
    expect(viaGrpc.status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(viaGrpc.keys).toEqual([]);
  });
});
