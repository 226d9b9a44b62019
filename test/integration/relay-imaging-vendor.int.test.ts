// Imaging instances as a vendor reads them from a real relay: an agent (a raw
// gRPC client speaking the wire protocol) offers an instance, sends its chunks
// in parts and then the batch with its blob-ref event; the vendor lists the
// study and GETs the instance (application/dicom, the exact bytes). A key
// without the feed is refused as for feed reads; an instance whose chunks are
// only partly sent, or whose event is not visible yet, is neither listed nor
// served; a revoked feed's instances are gone (410), as its events are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { DICOM_CONTENT_TYPE, IMAGING_SEQ_HEADER, RelayErrorCode, type ImagingListing, type RelayConfigInput } from '../../cloud-relay/index.js';
import { BLOB_CHUNK_BYTES, pb, type RelayMessage } from '../../protocol/index.js';
import { blobRefEvent, makeInstance, offerOf, partOf, type TestInstance } from '../support/blob-instance.js';
import { AgentStream, TestRelay, VENDOR_KEYS, connectAgent, makeBatch, makeEvent } from './relay-harness.js';

const FEED = 'imaging';
const STUDY = '1.2.826.0.1.3680043.10.7';
/** Granted FEED at h1. */
const PACS_KEY = 'pacs-cloud-key-0123456789abcdef';
const PART_BYTES = 512 * 1024;

/** Sends one agent message and returns the relay's answer to it. */
async function exchangeOn(stream: AgentStream, message: Parameters<typeof pb.AgentMessage.create>[0]): Promise<RelayMessage> {
  stream.call.write(pb.AgentMessage.create(message));
  return stream.next(10_000);
}

/** Offers the instance and sends its chunks in parts, up to byte `untilByte` of the instance. */
async function sendInstance(stream: AgentStream, instance: TestInstance, untilByte = instance.bytes.length): Promise<void> {
  const have = await exchangeOn(stream, { blobOffer: offerOf(FEED, instance) });
  expect(have.blobHave?.error ?? '').toBe('');
  let at = 0;
  for (const [index, chunk] of instance.chunks.entries()) {
    for (let offset = 0; offset < chunk.length && at + offset < untilByte; offset += PART_BYTES) {
      const length = Math.min(PART_BYTES, chunk.length - offset, untilByte - at - offset);
      const ack = await exchangeOn(stream, { blobPart: partOf(FEED, instance, index, offset, length) });
      expect(ack.blobPartAck?.error ?? '').toBe('');
      expect(ack.blobPartAck?.received).toBe(offset + length);
    }
    at += chunk.length;
  }
}

/** The relay config with vendor pacs-cloud granted FEED at h1. */
const withImagingVendor = (config: RelayConfigInput): RelayConfigInput => ({
  ...config,
  vendors: [...(config.vendors ?? []), { name: 'pacs-cloud', key: PACS_KEY, grants: [{ hospital: 'h1', feeds: [FEED] }] }],
});

describe('relay imaging routes (vendor HTTP)', () => {
  const relay = new TestRelay(withImagingVendor);
  let stream: AgentStream;
  // Two chunks, the second short: the bytes served must be both, in order.
  const whole = makeInstance(BLOB_CHUNK_BYTES + 300_000, 'vendor-whole', { studyUid: STUDY, seriesUid: `${STUDY}.1`, sopInstanceUid: `${STUDY}.1.1` });
  // Only half of its one chunk is sent before the vendor looks.
  const partial = makeInstance(200_000, 'vendor-partial', { studyUid: STUDY, seriesUid: `${STUDY}.2`, sopInstanceUid: `${STUDY}.2.1` });
  // Its event arrives in a batch whose source transaction is not complete yet.
  const hidden = makeInstance(50_000, 'vendor-hidden', { studyUid: STUDY, seriesUid: `${STUDY}.3`, sopInstanceUid: `${STUDY}.3.1` });

  const base = (hospital = 'h1', feed = FEED) => `${relay.httpBase}/v1/hospitals/${hospital}/feeds/${feed}/studies/${STUDY}`;
  const instanceUrl = (instance: TestInstance, hospital = 'h1', feed = FEED) =>
    `${base(hospital, feed)}/series/${instance.body.seriesUid}/instances/${instance.body.sopInstanceUid}`;
  /** GET as the vendor holding `key` (null: no Authorization header). */
  const get = (url: string, key: string | null = PACS_KEY, headers: Record<string, string> = {}) =>
    fetch(url, { headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers } });
  /** A batch as an agent sends it for a journal whose head is `journalHeadSeq` and whose transactions are complete through `completeThroughSeq`. */
  const batchUpTo = (batch: ReturnType<typeof makeBatch>, journalHeadSeq: number, completeThroughSeq: number) => Object.assign(batch, { journalHeadSeq, completeThroughSeq });

  const exchange = (message: Parameters<typeof pb.AgentMessage.create>[0]) => exchangeOn(stream, message);
  const send = (instance: TestInstance, untilByte?: number) => sendInstance(stream, instance, untilByte);

  beforeAll(async () => {
    await relay.start();
    const connected = await connectAgent(relay, 'h1', [FEED]);
    stream = connected.stream;
    expect(connected.welcome.features).toContain('blob-v1');
    await send(whole);
    expect((await exchange({ blobOffer: offerOf(FEED, whole) })).blobHave?.complete).toBe(true);
    expect((await stream.exchange(makeBatch(FEED, 1, 1, [blobRefEvent(1, whole)]))).body).toBe('ack');
    await send(partial, 100_000);
    // The relay refuses the event of an instance it does not hold complete, and stores nothing of its batch.
    const refused = await stream.exchange(makeBatch(FEED, 2, 2, [blobRefEvent(2, partial)]));
    expect(refused.nack?.reason).toBe(pb.NackReason.NACK_REASON_BLOB_INCOMPLETE);
    // seq 2 is an ordinary event; hidden's event at 3 opens a transaction that seq 4 completes.
    expect((await stream.exchange(makeBatch(FEED, 2, 2, [makeEvent(2)]))).body).toBe('ack');
    await send(hidden);
    expect((await stream.exchange(batchUpTo(makeBatch(FEED, 3, 3, [blobRefEvent(3, hidden)]), 4, 2))).body).toBe('ack');
  }, 60_000);

  afterAll(async () => {
    stream?.end();
    await relay.close();
  });

  it('serves the instance as application/dicom: the exact bytes, their length and the SHA-256 as ETag', async () => {
    const response = await get(instanceUrl(whole));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(DICOM_CONTENT_TYPE);
    expect(response.headers.get('content-length')).toBe(String(whole.bytes.length));
    expect(response.headers.get('etag')).toBe(`"${whole.manifest.sha256}"`);
    expect(response.headers.get(IMAGING_SEQ_HEADER)).toBe('1');
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.length).toBe(whole.bytes.length);
    expect(body.equals(whole.bytes)).toBe(true);
    // The vendor's copy revalidates by its ETag without the bytes again.
    const again = await get(instanceUrl(whole), PACS_KEY, { 'if-none-match': `"${whole.manifest.sha256}"` });
    expect(again.status).toBe(304);
    expect((await again.arrayBuffer()).byteLength).toBe(0);
    // Only under its own study and series.
    expect((await get(`${base()}/series/${partial.body.seriesUid}/instances/${whole.body.sopInstanceUid}`)).status).toBe(404);
    expect((await get(`${relay.httpBase}/v1/hospitals/h1/feeds/${FEED}/studies/${STUDY}.99/series/${whole.body.seriesUid}/instances/${whole.body.sopInstanceUid}`)).status).toBe(404);
  });

  it("lists the study's complete, visible instances, and the feed's events list what arrived", async () => {
    const response = await get(base());
    expect(response.status).toBe(200);
    const listing = (await response.json()) as ImagingListing;
    expect(listing).toEqual({
      hospital: 'h1',
      feed: FEED,
      studyUid: STUDY,
      visibleSeq: 2,
      instances: [
        {
          seriesUid: whole.body.seriesUid,
          sopInstanceUid: whole.body.sopInstanceUid,
          sopClassUid: whole.body.sopClassUid,
          size: whole.bytes.length,
          sha256: whole.manifest.sha256,
          seq: 1,
          href: new URL(instanceUrl(whole)).pathname,
        },
      ],
    });
    const series = (await (await get(`${base()}/series/${whole.body.seriesUid}`)).json()) as ImagingListing;
    expect(series.seriesUid).toBe(whole.body.seriesUid);
    expect(series.instances.map((i) => i.sopInstanceUid)).toEqual([whole.body.sopInstanceUid]);
    const events = await get(`${relay.httpBase}/v1/feeds/${FEED}/events?after=0`);
    const lines = (await events.text()).trim().split('\n').map((line) => JSON.parse(line) as { seq: number; contentType: string; body: unknown });
    expect(lines.map((l) => [l.seq, l.contentType])).toEqual([
      [1, 'blob-ref'],
      [2, 'hl7v2'],
    ]);
    expect(lines[0]!.body).toMatchObject({ sopInstanceUid: whole.body.sopInstanceUid, sha256: whole.manifest.sha256 });
  });

  it('neither lists nor serves an instance whose chunks are only partly held', async () => {
    const response = await get(instanceUrl(partial));
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(RelayErrorCode.IMAGING_NOT_FOUND);
    const series = await get(`${base()}/series/${partial.body.seriesUid}`);
    expect(series.status).toBe(404);
    expect(((await series.json()) as { error: { code: string; message: string } }).error.message).toContain(partial.body.seriesUid);
  });

  it('shows an instance only once its event is visible (its source transaction complete)', async () => {
    expect((await get(instanceUrl(hidden))).status).toBe(404);
    expect((await get(`${base()}/series/${hidden.body.seriesUid}`)).status).toBe(404);
    expect((await stream.exchange(batchUpTo(makeBatch(FEED, 4, 4, [makeEvent(4)]), 4, 4))).body).toBe('ack');
    const response = await get(instanceUrl(hidden));
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(hidden.bytes)).toBe(true);
    const listing = (await (await get(base())).json()) as ImagingListing;
    expect(listing.visibleSeq).toBe(4);
    expect(listing.instances.map((i) => i.sopInstanceUid)).toEqual([whole.body.sopInstanceUid, hidden.body.sopInstanceUid]);
  });

  it('refuses a key without the feed, or no key, exactly as feed reads do, and tells nothing of the study', async () => {
    const feedRead = await get(`${relay.httpBase}/v1/feeds/${FEED}/events?after=0&hospital=h1`, VENDOR_KEYS.platform);
    for (const url of [base(), `${base()}/series/${whole.body.seriesUid}`, instanceUrl(whole)]) {
      const refused = await get(url, VENDOR_KEYS.platform);
      expect(refused.status).toBe(feedRead.status);
      expect(refused.status).toBe(403);
      const text = await refused.text();
      expect(JSON.parse(text)).toMatchObject({ error: { code: RelayErrorCode.FEED_NOT_GRANTED } });
      expect(text).not.toContain(whole.manifest.sha256);
      expect(text).not.toContain(STUDY);
      const anonymous = await get(url, null);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="wardline"');
    }
    // The grant is per hospital: the same key and feed at another hospital is refused too.
    expect((await get(instanceUrl(whole, 'h2'))).status).toBe(403);
  });

  it('answers 400 naming the parameter for a malformed UID', async () => {
    const response = await get(`${base()}/series/not-a-uid/instances/${whole.body.sopInstanceUid}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: RelayErrorCode.BAD_REQUEST, message: expect.stringContaining('seriesUid') });
  });

  it('serves the partial instance once its last chunk arrives and its event is stored', async () => {
    const have = await exchange({ blobOffer: offerOf(FEED, partial) });
    expect(have.blobHave?.missing).toEqual([0]);
    expect(have.blobHave?.partialBytes).toEqual([100_000]);
    const ack = await exchange({ blobPart: partOf(FEED, partial, 0, 100_000, 100_000) });
    expect(ack.blobPartAck?.stored).toBe(true);
    expect((await stream.exchange(makeBatch(FEED, 5, 5, [blobRefEvent(5, partial)]))).body).toBe('ack');
    const response = await get(instanceUrl(partial));
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(partial.bytes)).toBe(true);
  });

  // Last: it revokes the feed.
  it('answers 410 for every imaging route of a revoked feed, as for its events, and no byte of it is served', async () => {
    stream.call.write(pb.AgentMessage.create({ revoke: { feed: FEED, reason: 'contract ended' } }));
    expect((await stream.next(10_000)).body).toBe('revoked');
    const feedRead = await get(`${relay.httpBase}/v1/feeds/${FEED}/events?after=0`);
    expect(feedRead.status).toBe(410);
    for (const url of [base(), `${base()}/series/${whole.body.seriesUid}`, instanceUrl(whole)]) {
      const response = await get(url);
      expect(response.status).toBe(410);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(RelayErrorCode.FEED_REVOKED);
    }
  });
});

describe('relay imaging routes: a vendor that stops reading an instance', () => {
  const relay = new TestRelay((config) => ({ ...withImagingVendor(config), feedLimits: { concurrentReadsPerKey: 1, stalledResponseMs: 1_000 } }));
  // Larger than what the sockets' buffers hold between them.
  const big = makeInstance(4 * BLOB_CHUNK_BYTES, 'vendor-big', { studyUid: STUDY, seriesUid: `${STUDY}.1`, sopInstanceUid: `${STUDY}.1.7` });
  const url = () => `${relay.httpBase}/v1/hospitals/h1/feeds/${FEED}/studies/${STUDY}/series/${big.body.seriesUid}/instances/${big.body.sopInstanceUid}`;

  beforeAll(async () => {
    await relay.start();
    const { stream } = await connectAgent(relay, 'h1', [FEED]);
    await sendInstance(stream, big);
    expect((await stream.exchange(makeBatch(FEED, 1, 1, [blobRefEvent(1, big)]))).body).toBe('ack');
    stream.end();
  }, 60_000);

  afterAll(async () => {
    await relay.close();
  });

  it("is cut after stalledResponseMs, holds the key's one read meanwhile (429), and frees it", async () => {
    const socket = connect(relay.relay!.httpPort, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`GET ${new URL(url()).pathname} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${PACS_KEY}\r\n\r\n`);
    const head = await new Promise<string>((resolve) =>
      socket.once('data', (chunk: Buffer) => {
        socket.pause();
        resolve(chunk.toString('latin1').split('\r\n\r\n')[0]!);
      }),
    );
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    const second = await fetch(url(), { headers: { authorization: `Bearer ${PACS_KEY}` } });
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe(RelayErrorCode.TOO_MANY_REQUESTS);
    const received = await new Promise<number>((resolve) => {
      let bytes = 0;
      setTimeout(() => {
        socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
        socket.once('close', () => resolve(bytes));
        socket.resume();
      }, 2_500);
    });
    expect(received).toBeLessThan(big.bytes.length);
    const after = await fetch(url(), { headers: { authorization: `Bearer ${PACS_KEY}` } });
    expect(after.status).toBe(200);
    expect(Buffer.from(await after.arrayBuffer()).equals(big.bytes)).toBe(true);
  }, 30_000);
});
