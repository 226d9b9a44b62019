// The vendor inbound API of a real relay on 127.0.0.1:0 (its database in a temp
// dir): every answer of POST …/inbound/{channel}, GET …/inbound/{id} and the
// receipts long-poll over real HTTP, the gRPC Inbound service with a raw grpc-js
// client, the expiry sweep, and an event that survives a restart with its id.
// Channels are declared, sent and answered through the relay's own InboundStore,
// as the agent's stream would (cloud-relay/ingest/inbound-handler.ts).
import { request as httpRequest } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INBOUND_ID_PATTERN, InboundService, pb, type InboundChannelDeclaration, type InboundReceipt, type InboundStatusMessage, type InboundWriteRequest, type ReceiptsRequest } from '../../protocol/index.js';
import { TestRelay, VENDOR_KEYS } from './relay-harness.js';

const BILLING_KEY = 'billing-key-0123456789abcdef';
const app = { authorization: `Bearer ${VENDOR_KEYS.app}` };
const billing = { authorization: `Bearer ${BILLING_KEY}` };

const BOOKINGS: InboundChannelDeclaration = {
  name: 'bookings',
  defaultTtlMs: 60_000,
  maxTtlMs: 120_000,
  maxBodyBytes: 1_024,
  contentTypes: ['json'],
  keyPath: '$.patient.id',
  requiredFields: [
    { path: '$.patient.id', type: 'string' },
    { path: '$.slot', type: 'string' },
  ],
};
const ORDERS: InboundChannelDeclaration = { name: 'orders', defaultTtlMs: 60_000, maxTtlMs: 120_000, maxBodyBytes: 4_096, contentTypes: ['hl7v2'], keyPath: '', requiredFields: [] };
const HL7 = 'MSH|^~\\&|APP|VENDOR|WARDLINE|H2|20261203101500||SRM^S01^SRM_S01|X1|P|2.5\rARQ|A1\r';

function booking(patient: string, slot: string): string {
  return JSON.stringify({ patient: { id: patient }, slot });
}

interface Answer {
  status: number;
  headers: Headers;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

describe('relay inbound API (HTTP and gRPC)', () => {
  const relay = new TestRelay((config) => ({
    ...config,
    hospitals: config.hospitals,
    vendors: [
      ...(config.vendors ?? []).map((v) => (v.name === 'app' ? { ...v, grants: [{ hospital: 'h2', feeds: ['appointments'], inbound: ['bookings', 'orders', 'payments'] }] } : v)),
      { name: 'billing', key: BILLING_KEY, grants: [{ hospital: 'h2', inbound: ['bookings'] }] },
    ],
    inbound: { maxBodyBytes: 2_048, expirySweepMs: 100 },
  }));
  let grpcClient: grpc.Client;

  beforeAll(async () => {
    await relay.start();
    // `payments` is granted but never declared by the agent: 404.
    await relay.relay!.inbound.declareChannels('h2', [BOOKINGS, ORDERS], Date.now());
    const Client = grpc.makeGenericClientConstructor(InboundService, 'Inbound');
    grpcClient = new Client(relay.grpcAddress, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    grpcClient?.close();
    await relay.close();
  });

  async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Answer> {
    const response = await fetch(`${relay.httpBase}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json, text };
  }

  function post(channel: string, body: string | Buffer, headers: Record<string, string> = {}, hospital = 'h2'): Promise<Answer> {
    return call('POST', `/v1/hospitals/${hospital}/inbound/${channel}`, { ...app, 'content-type': 'application/json', ...headers }, body);
  }

  it('202: stores a JSON write, numbered, with its key from the key path and the default TTL', async () => {
    const before = Date.now();
    const answer = await post('bookings', booking('p-1', 's-1'), { 'idempotency-key': 'w-1' });
    expect(answer.status).toBe(202);
    expect(answer.json).toMatchObject({ hospital: 'h2', channel: 'bookings', key: 'p-1', idempotencyKey: 'w-1', state: 'waiting', sentAt: null, receipt: null });
    expect(answer.json.id).toMatch(INBOUND_ID_PATTERN);
    expect(answer.headers.get('idempotent-replayed')).toBeNull();
    expect(answer.headers.get('location')).toBe(`/v1/hospitals/h2/inbound/${answer.json.id}`);
    const expiresIn = Date.parse(answer.json.expiresAt) - Date.parse(answer.json.receivedAt);
    expect(expiresIn).toBe(60_000);
    expect(Date.parse(answer.json.receivedAt)).toBeGreaterThanOrEqual(before - 1);
    const stored = await relay.relay!.inbound.get('h2', answer.json.id);
    expect(stored!.body.toString()).toBe(booking('p-1', 's-1'));
  });

  it('202 with Idempotent-Replayed and the same id for a repeat; 409 for the same key with another body', async () => {
    const first = await post('bookings', booking('p-2', 's-2'), { 'idempotency-key': 'w-2' });
    const again = await post('bookings', booking('p-2', 's-2'), { 'idempotency-key': 'w-2' });
    expect(again.status).toBe(202);
    expect(again.json.id).toBe(first.json.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await post('bookings', booking('p-2', 's-3'), { 'idempotency-key': 'w-2' });
    expect(other.status).toBe(409);
    expect(other.json.error).toMatchObject({ code: 'WL_INBOUND_KEY_CONFLICT', id: first.json.id });
    // Another vendor's key of the same text is its own event.
    const theirs = await post('bookings', booking('p-2', 's-2'), { ...billing, 'idempotency-key': 'w-2' });
    expect(theirs.status).toBe(202);
    expect(theirs.json.id).not.toBe(first.json.id);
  });

  it('202 for HL7 v2 with Wardline-Key and Wardline-TTL-Ms', async () => {
    const answer = await post('orders', HL7, { 'content-type': 'x-application/hl7-v2+er7', 'idempotency-key': 'o-1', 'wardline-key': 'p-9', 'wardline-ttl-ms': '90000' });
    expect(answer.status).toBe(202);
    expect(answer.json).toMatchObject({ channel: 'orders', key: 'p-9', state: 'waiting' });
    expect(Date.parse(answer.json.expiresAt) - Date.parse(answer.json.receivedAt)).toBe(90_000);
    expect((await relay.relay!.inbound.get('h2', answer.json.id))!.contentType).toBe('hl7v2');
  });

  it('400 without an Idempotency-Key, or with one too long', async () => {
    const none = await post('bookings', booking('p-3', 's-3'));
    expect(none.status).toBe(400);
    expect(none.json.error.code).toBe('WL_INBOUND_IDEMPOTENCY_KEY');
    const long = await post('bookings', booking('p-3', 's-3'), { 'idempotency-key': 'k'.repeat(201) });
    expect(long.status).toBe(400);
    expect(long.json.error.message).toContain('201 characters');
  });

  it('401 without a key, 403 without a write grant (a read grant is not one), at another hospital too', async () => {
    expect((await call('POST', '/v1/hospitals/h2/inbound/bookings', { 'content-type': 'application/json', 'idempotency-key': 'x' }, booking('p', 's'))).status).toBe(401);
    const reader = await post('bookings', booking('p', 's'), { authorization: `Bearer ${VENDOR_KEYS.platform}`, 'idempotency-key': 'x' });
    expect(reader.status).toBe(403);
    expect(reader.json.error.code).toBe('WL_INBOUND_NOT_GRANTED');
    expect((await post('bookings', booking('p', 's'), { 'idempotency-key': 'x' }, 'h1')).status).toBe(403);
    expect((await post('orders', HL7, { ...billing, 'content-type': 'x-application/hl7-v2+er7', 'idempotency-key': 'x', 'wardline-key': 'k' })).status).toBe(403);
  });

  it('404 for a channel the agent never declared, even when granted', async () => {
    const answer = await post('payments', '{"amount":1}', { 'idempotency-key': 'pay-1' });
    expect(answer.status).toBe(404);
    expect(answer.json.error.code).toBe('WL_INBOUND_UNKNOWN_CHANNEL');
  });

  it('413 past the channel limit, from Content-Length and from a chunked body, without storing', async () => {
    const big = booking('p-4', 'x'.repeat(1_100));
    const declared = await post('bookings', big, { 'idempotency-key': 'big-1' });
    expect(declared.status).toBe(413);
    expect(declared.json.error).toMatchObject({ code: 'WL_INBOUND_TOO_LARGE' });
    expect(declared.json.error.message).toContain('1024');

    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${relay.httpBase}/v1/hospitals/h2/inbound/bookings`, { method: 'POST', headers: { ...app, 'content-type': 'application/json', 'idempotency-key': 'big-2', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.write(big.slice(0, 600));
      setTimeout(() => req.end(big.slice(600)), 20);
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.code).toBe('WL_INBOUND_TOO_LARGE');
    // Neither was stored: the keys are still free.
    expect((await post('bookings', booking('p-4', 's-4'), { 'idempotency-key': 'big-1' })).json.idempotencyKey).toBe('big-1');
  });

  it('415 for a content type the API or the channel does not take', async () => {
    const text = await post('bookings', 'hello', { 'content-type': 'text/plain', 'idempotency-key': 'ct-1' });
    expect(text.status).toBe(415);
    expect(text.json.error.code).toBe('WL_INBOUND_CONTENT_TYPE');
    const hl7OnJson = await post('bookings', HL7, { 'content-type': 'x-application/hl7-v2+er7', 'idempotency-key': 'ct-2', 'wardline-key': 'k' });
    expect(hl7OnJson.status).toBe(415);
    expect(hl7OnJson.json.error.message).toContain('takes json');
  });

  it('422 naming the field: missing, of another type, not JSON, no ordering key, a TTL above the maximum', async () => {
    const missing = await post('bookings', JSON.stringify({ patient: { id: 'p-5' } }), { 'idempotency-key': 'u-1' });
    expect(missing.status).toBe(422);
    expect(missing.json.error).toMatchObject({ code: 'WL_INBOUND_UNFIT', field: '$.slot' });
    const wrongType = await post('bookings', JSON.stringify({ patient: { id: 'p-5' }, slot: 7 }), { 'idempotency-key': 'u-2' });
    expect(wrongType.json.error).toMatchObject({ field: '$.slot' });
    expect(wrongType.json.error.message).toContain('must be a string');
    const notJson = await post('bookings', '{"patient":', { 'idempotency-key': 'u-3' });
    expect(notJson.status).toBe(422);
    expect(notJson.json.error.message).toContain('not JSON');
    const noKey = await post('orders', HL7, { 'content-type': 'x-application/hl7-v2+er7', 'idempotency-key': 'u-4' });
    expect(noKey.status).toBe(422);
    expect(noKey.json.error.field).toBe('Wardline-Key');
    const ttl = await post('bookings', booking('p-5', 's-5'), { 'idempotency-key': 'u-5', 'wardline-ttl-ms': '120001' });
    expect(ttl.status).toBe(422);
    expect(ttl.json.error.field).toBe('Wardline-TTL-Ms');
    const badTtl = await post('bookings', booking('p-5', 's-5'), { 'idempotency-key': 'u-6', 'wardline-ttl-ms': 'soon' });
    expect(badTtl.status).toBe(400);
  });

  it('GET an event: the vendor that wrote it only; 404 for another vendor and for an unknown id', async () => {
    const written = await post('bookings', booking('p-6', 's-6'), { 'idempotency-key': 'g-1' });
    const mine = await call('GET', `/v1/hospitals/h2/inbound/${written.json.id}`, app);
    expect(mine.status).toBe(200);
    expect(mine.json).toEqual(written.json);
    const theirs = await call('GET', `/v1/hospitals/h2/inbound/${written.json.id}`, billing);
    expect(theirs.status).toBe(404);
    expect(theirs.json.error.code).toBe('WL_INBOUND_NOT_FOUND');
    expect((await call('GET', '/v1/hospitals/h2/inbound/ibaaaaaaaaaaaaaaaaaa', app)).status).toBe(404);
    expect((await call('GET', '/v1/hospitals/h2/inbound/not-an-id', app)).status).toBe(404);
    expect((await call('DELETE', `/v1/hospitals/h2/inbound/${written.json.id}`, app)).status).toBe(405);
  });

  it('receipts: NDJSON of the vendor own events after a cursor, and a long-poll woken by a new receipt', async () => {
    const store = relay.relay!.inbound;
    const a = await post('bookings', booking('p-7', 's-7'), { 'idempotency-key': 'r-1' });
    const b = await post('bookings', booking('p-8', 's-8'), { 'idempotency-key': 'r-2' });
    const theirs = await post('bookings', booking('p-8', 's-8'), { ...billing, 'idempotency-key': 'r-3' });
    // What the agent's stream does: take them, journal them, answer.
    await store.takeToSend('h2', 'bookings', 0, 100, 1 << 20, Date.now());
    const receipt = (id: string, extra: Partial<InboundReceipt> = {}): InboundReceipt => ({
      id,
      channel: 'bookings',
      outcome: 'accepted',
      final: true,
      code: 'AA',
      reason: '',
      reference: 'APPT-7',
      attempts: 1,
      decidedAtMs: Date.now(),
      ...extra,
    });
    await store.storeReceipt('h2', receipt(a.json.id), Date.now());
    await store.storeReceipt('h2', receipt(theirs.json.id), Date.now());

    const page = await call('GET', '/v1/hospitals/h2/inbound/bookings/receipts', app);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = page.text.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((l) => l.id)).toEqual([a.json.id]);
    expect(lines[0]).toMatchObject({ channel: 'bookings', outcome: 'accepted', final: true, code: 'AA', reference: 'APPT-7', attempts: 1, key: 'p-7' });
    expect(typeof lines[0].decidedAt).toBe('string');
    const cursor = Number(page.headers.get('wardline-next-after'));
    expect(cursor).toBe(lines[0].receiptSeq);

    // Nothing new: an empty answer after the wait, the cursor unchanged.
    const started = Date.now();
    const empty = await call('GET', `/v1/hospitals/h2/inbound/bookings/receipts?after=${cursor}&wait=300`, app);
    expect(empty.text).toBe('');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(empty.headers.get('wardline-next-after')).toBe(String(cursor));

    // A long-poll answered as soon as the receipt is stored, well before its wait.
    const polled = call('GET', `/v1/hospitals/h2/inbound/bookings/receipts?after=${cursor}&wait=20000`, app);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const wokeAt = Date.now();
    await store.storeReceipt('h2', receipt(b.json.id, { outcome: 'refused', code: 'AR', reason: 'slot already taken', reference: '' }), Date.now());
    const woken = await polled;
    expect(Date.now() - wokeAt).toBeLessThan(5_000);
    expect(JSON.parse(woken.text.trim())).toMatchObject({ id: b.json.id, outcome: 'refused', reason: 'slot already taken' });
    // The event's own status shows its final receipt.
    expect((await call('GET', `/v1/hospitals/h2/inbound/${b.json.id}`, app)).json).toMatchObject({ state: 'refused', receipt: { outcome: 'refused', code: 'AR' } });

    expect((await call('GET', '/v1/hospitals/h2/inbound/bookings/receipts?wait=30001', app)).status).toBe(400);
    expect((await call('GET', '/v1/hospitals/h2/inbound/bookings/receipts?limit=0', app)).status).toBe(400);
    expect((await call('GET', '/v1/hospitals/h2/inbound/payments/receipts', app)).status).toBe(404);
    expect((await call('GET', '/v1/hospitals/h2/inbound/orders/receipts', billing)).status).toBe(403);
  });

  it('the sweep expires an event never sent once its TTL passes; the vendor reads the expired receipt', async () => {
    const short = await post('bookings', booking('p-10', 's-10'), { 'idempotency-key': 'e-1', 'wardline-ttl-ms': '150' });
    expect(short.status).toBe(202);
    const deadline = Date.now() + 5_000;
    let state = short.json.state;
    while (state !== 'expired' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = (await call('GET', `/v1/hospitals/h2/inbound/${short.json.id}`, app)).json.state;
    }
    expect(state).toBe('expired');
    const receipts = (await call('GET', '/v1/hospitals/h2/inbound/bookings/receipts', app)).text.trim().split('\n').map((l) => JSON.parse(l));
    expect(receipts.find((r) => r.id === short.json.id)).toMatchObject({ outcome: 'expired', final: true, attempts: 0 });
  });

  describe('gRPC Inbound', () => {
    function metadata(key: string): grpc.Metadata {
      const m = new grpc.Metadata();
      m.set('authorization', `Bearer ${key}`);
      return m;
    }
    function unary<Req>(method: 'write' | 'get', request: Req, key: string = VENDOR_KEYS.app): Promise<InboundStatusMessage> {
      return new Promise((resolve, reject) => {
        (grpcClient as unknown as Record<string, (r: Req, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v: InboundStatusMessage) => void) => void>)[method]!(request, metadata(key), (error, value) =>
          error ? reject(error) : resolve(value),
        );
      });
    }
    const writeRequest = (extra: Partial<Pick<InboundWriteRequest, 'hospitalId' | 'channel' | 'idempotencyKey' | 'contentType' | 'body' | 'ttlMs' | 'key'>> = {}) =>
      pb.InboundWriteRequest.create({ hospitalId: 'h2', channel: 'bookings', idempotencyKey: 'grpc-1', contentType: 'json', body: Buffer.from(booking('p-20', 's-20')), ...extra });

    it('Write stores (replayed on a repeat), Get shows it to its writer only, errors carry their codes', async () => {
      const first = await unary('write', writeRequest());
      expect(first.id).toMatch(INBOUND_ID_PATTERN);
      expect(first).toMatchObject({ hospitalId: 'h2', channel: 'bookings', key: 'p-20', state: 'waiting', replayed: false });
      const again = await unary('write', writeRequest());
      expect(again).toMatchObject({ id: first.id, replayed: true });
      const got = await unary('get', pb.InboundGetRequest.create({ hospitalId: 'h2', id: first.id }));
      expect(got).toMatchObject({ id: first.id, state: 'waiting' });
      // The same id over HTTP.
      expect((await call('GET', `/v1/hospitals/h2/inbound/${first.id}`, app)).json.id).toBe(first.id);

      const refusals: [Promise<unknown>, grpc.status, string][] = [
        [unary('write', writeRequest({ body: Buffer.from(booking('p-20', 'other')) })), grpc.status.ALREADY_EXISTS, 'WL_INBOUND_KEY_CONFLICT'],
        [unary('write', writeRequest({ idempotencyKey: '' })), grpc.status.INVALID_ARGUMENT, 'WL_INBOUND_IDEMPOTENCY_KEY'],
        [unary('write', writeRequest({ idempotencyKey: 'g2', body: Buffer.from('{"patient":{"id":"p"}}') })), grpc.status.INVALID_ARGUMENT, 'WL_INBOUND_UNFIT'],
        [unary('write', writeRequest({ idempotencyKey: 'g3', contentType: 'xml' })), grpc.status.INVALID_ARGUMENT, 'WL_INBOUND_CONTENT_TYPE'],
        [unary('write', writeRequest({ idempotencyKey: 'g4', body: Buffer.from(booking('p', 'x'.repeat(1_100))) })), grpc.status.RESOURCE_EXHAUSTED, 'WL_INBOUND_TOO_LARGE'],
        [unary('write', writeRequest({ channel: 'payments' })), grpc.status.NOT_FOUND, 'WL_INBOUND_UNKNOWN_CHANNEL'],
        [unary('write', writeRequest(), VENDOR_KEYS.platform), grpc.status.PERMISSION_DENIED, 'WL_INBOUND_NOT_GRANTED'],
        [unary('get', pb.InboundGetRequest.create({ hospitalId: 'h2', id: first.id }), BILLING_KEY), grpc.status.NOT_FOUND, 'WL_INBOUND_NOT_FOUND'],
      ];
      for (const [promise, code, wardlineCode] of refusals) {
        const error = (await promise.then(
          () => undefined,
          (e: unknown) => e,
        )) as grpc.ServiceError;
        expect(error, wardlineCode).toBeDefined();
        expect(error.code, wardlineCode).toBe(code);
        expect(error.metadata.get('wardline-error-code')[0]).toBe(wardlineCode);
      }
    });

    it('Receipts replays after a cursor and, with follow, streams new receipts as they are stored', async () => {
      const store = relay.relay!.inbound;
      const written = await unary('write', writeRequest({ idempotencyKey: 'grpc-follow', body: Buffer.from(booking('p-21', 's-21')) }));
      const existing = await store.receipts('h2', 'bookings', 'app', 0, 1_000);
      const call = (grpcClient as unknown as { receipts(r: ReceiptsRequest, m: grpc.Metadata): grpc.ClientReadableStream<InboundStatusMessage> }).receipts(
        pb.ReceiptsRequest.create({ hospitalId: 'h2', channel: 'bookings', after: 0, follow: true }),
        metadata(VENDOR_KEYS.app),
      );
      const seen: InboundStatusMessage[] = [];
      call.on('data', (m: InboundStatusMessage) => seen.push(m));
      call.on('error', () => {});
      const until = async (n: number) => {
        const deadline = Date.now() + 5_000;
        while (seen.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      };
      await until(existing.length);
      expect(seen.map((m) => Number(m.receiptSeq))).toEqual(existing.map((r) => r.receiptSeq));
      await store.takeToSend('h2', 'bookings', 0, 1_000, 1 << 20, Date.now());
      await store.storeReceipt('h2', { id: written.id, channel: 'bookings', outcome: 'quarantined', final: false, code: 'AE', reason: 'HIS error', reference: '', attempts: 10, decidedAtMs: Date.now() }, Date.now());
      await until(existing.length + 1);
      expect(seen[existing.length]).toMatchObject({ id: written.id, state: 'quarantined', receipt: { outcome: 'quarantined', final: false, attempts: 10 } });
      call.cancel();
    });
  });

  it('an event survives a restart with the same data dir: same id, same body, its key still answered', async () => {
    const written = await post('bookings', booking('p-30', 's-30'), { 'idempotency-key': 'd-1' });
    expect(written.status).toBe(202);
    await relay.restart();
    const after = await call('GET', `/v1/hospitals/h2/inbound/${written.json.id}`, app);
    expect(after.status).toBe(200);
    expect(after.json).toEqual(written.json);
    expect((await relay.relay!.inbound.get('h2', written.json.id))!.body.toString()).toBe(booking('p-30', 's-30'));
    const replay = await post('bookings', booking('p-30', 's-30'), { 'idempotency-key': 'd-1' });
    expect(replay.json.id).toBe(written.json.id);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    // The restarted relay still knows the channel the agent declared.
    expect((await post('bookings', booking('p-31', 's-31'), { 'idempotency-key': 'd-2' })).status).toBe(202);
  });
});
