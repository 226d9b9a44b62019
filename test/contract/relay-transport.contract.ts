// What every RelayTransport must do, as the replicator relies on it. Run
// against the real gRPC transport on a real relay and against the shared fake
// (test/support/fake-relay-transport.ts), so the fake the unit tests use cannot
// drift from what the wire does.
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import {
  BLOB_CHUNK_BYTES,
  BLOB_FEATURE,
  BLOB_REF_CONTENT_TYPE,
  IMAGING_STREAM,
  INBOUND_FEATURE,
  PROTOCOL_VERSION,
  encodeEvents,
  type BlobManifest,
  type ImagingInstanceBody,
  type InboundChannelDeclaration,
  type JournalEvent,
} from '../../protocol/index.js';
import { RelayLinkError } from '../../agent/replication/errors.js';
import type { InboundEventIn } from '../../agent/downlink/downlink-ports.js';
import type {
  FeedControlAnswer,
  HelloInfo,
  InboundBacklogEntry,
  NackReason,
  OutboundBatch,
  ReceiptAckInfo,
  RelaySession,
  RelaySessionHandlers,
  RelayTransport,
} from '../../agent/replication/relay-transport.js';

export interface RelayTransportFixture {
  /** A transport to a live relay that knows `hello`'s hospital. */
  transport(): RelayTransport;
  /** A transport to an address where nothing listens. */
  deadTransport(): RelayTransport;
  /** A Hello the relay accepts (feeds are added per test). */
  hello: Omit<HelloInfo, 'feeds'>;
  /** The relay's id as its Welcome carries it. */
  relayId: string;
  /** Stops the relay and removes what it wrote. */
  close(): Promise<void>;
  /**
   * The downlink: writes a vendor's JSON event for `channel` at the relay (as
   * Inbound.Write would, the channel declared in an earlier Hello) and returns
   * its id. Absent = the relay offers no downlink yet; its tests are skipped.
   */
  inbound?: { write(channel: string, key: string, body: object): Promise<string> };
  /** A relay of protocol 1 (from before the downlink) knowing the same hospital; absent = not available here, the test is skipped. */
  olderRelay?(): Promise<{ transport: RelayTransport; close(): Promise<void> }>;
}

/** A channel declaration as an agent sends it in Hello. */
function channelDeclaration(name: string): InboundChannelDeclaration {
  return { name, defaultTtlMs: 3_600_000, maxTtlMs: 86_400_000, maxBodyBytes: 65_536, contentTypes: ['json'], keyPath: '$.patient.id', requiredFields: [] };
}

/** Everything a session told its handlers, in order. */
class Replies {
  readonly acks: { feed: string; seq: number; duplicate: boolean }[] = [];
  readonly nacks: { feed: string; expected: number; reason: NackReason | undefined }[] = [];
  readonly answers: FeedControlAnswer[] = [];
  readonly closes: (Error | undefined)[] = [];
  readonly deliveries: InboundEventIn[][] = [];
  readonly receiptAcks: ReceiptAckInfo[] = [];
  readonly backlogs: InboundBacklogEntry[][] = [];
  private waiters: (() => void)[] = [];

  /** Every inbound event delivered, in order. */
  get delivered(): InboundEventIn[] {
    return this.deliveries.flat();
  }

  readonly handlers: RelaySessionHandlers = {
    onInboundDelivery: (events) => this.push(() => this.deliveries.push(events)),
    onReceiptAck: (ack) => this.push(() => this.receiptAcks.push(ack)),
    onInboundBacklog: (entries) => this.push(() => this.backlogs.push(entries)),
    onAck: (feed, seq, duplicate) => this.push(() => this.acks.push({ feed, seq, duplicate })),
    onNack: (feed, expected, _detail, reason) => this.push(() => this.nacks.push({ feed, expected, reason })),
    onControlAnswer: (answer) => this.push(() => this.answers.push(answer)),
    onClose: (error) => this.push(() => this.closes.push(error)),
  };

  private push(record: () => void): void {
    record();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once `condition` holds (checked after every reply), or rejects after timeoutMs. */
  async until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

function event(seq: number): JournalEvent {
  return {
    seq,
    stream: 'adt',
    key: `P${1000 + seq}`,
    op: 'upsert',
    tsMs: Date.UTC(2024, 0, 1, 8) + seq * 1000,
    source: 'contract',
    contentType: 'hl7v2',
    body: Buffer.from(`MSH|^~\\&|LIS|H1|||20240101080000||ADT^A01|MSG${seq}|P|2.5\rPID|1||P${1000 + seq}`, 'utf8'),
    headers: { controlId: `MSG${seq}` },
  };
}

/** The batch [firstSeq, lastSeq] of `feed`, one event per seq, as a pump builds it. */
function batch(feed: string, firstSeq: number, lastSeq: number): OutboundBatch {
  const events: JournalEvent[] = [];
  for (let seq = firstSeq; seq <= lastSeq; seq++) events.push(event(seq));
  const encoded = encodeEvents(events, 'gzip');
  return {
    feed,
    firstSeq,
    lastSeq,
    codec: 'gzip',
    payload: encoded.payload,
    payloadSha256: encoded.payloadSha256,
    eventCount: events.length,
    uncompressedBytes: encoded.uncompressedBytes,
    policyVersion: 0,
    journalHeadSeq: lastSeq,
  };
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** An instance of `size` random bytes cut as the archive cuts it, with its blob-ref body. */
function instance(size: number): { bytes: Buffer; chunks: Buffer[]; manifest: BlobManifest; body: ImagingInstanceBody } {
  const bytes = randomBytes(size);
  const chunks: Buffer[] = [];
  for (let at = 0; at < size; at += BLOB_CHUNK_BYTES) chunks.push(bytes.subarray(at, Math.min(size, at + BLOB_CHUNK_BYTES)));
  const manifest = { sha256: sha(bytes), size, chunks: chunks.map((c) => ({ sha256: sha(c), size: c.length })) };
  const uid = `1.2.826.0.1.${Date.now()}.${size}`;
  const body: ImagingInstanceBody = {
    ...manifest,
    studyUid: uid,
    seriesUid: `${uid}.1`,
    sopInstanceUid: `${uid}.1.1`,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    patientId: 'P1',
    modality: 'CT',
    studyDate: '20260101',
  };
  return { bytes, chunks, manifest, body };
}

/** A batch of one blob-ref event at `seq` naming `body`. */
function blobRefBatch(feed: string, seq: number, body: ImagingInstanceBody): OutboundBatch {
  const events: JournalEvent[] = [
    { seq, stream: IMAGING_STREAM, key: body.sopInstanceUid, op: 'upsert', tsMs: Date.UTC(2026, 0, 1), source: 'pacs', contentType: BLOB_REF_CONTENT_TYPE, body: Buffer.from(JSON.stringify(body)), headers: {} },
  ];
  const encoded = encodeEvents(events, 'gzip');
  return { feed, firstSeq: seq, lastSeq: seq, codec: 'gzip', payload: encoded.payload, payloadSha256: encoded.payloadSha256, eventCount: 1, uncompressedBytes: encoded.uncompressedBytes, policyVersion: 0, journalHeadSeq: seq };
}

const PART = 64 * 1024;

export function describeRelayTransportContract(label: string, factory: () => Promise<RelayTransportFixture>): void {
  describe(`RelayTransport contract: ${label}`, () => {
    /** Opens a fixture, runs `body`, and always cleans up. */
    async function withRelay(body: (fixture: RelayTransportFixture, open: (feeds: string[]) => Promise<{ session: RelaySession; replies: Replies; transport: RelayTransport }>) => Promise<void>): Promise<void> {
      const fixture = await factory();
      const transports: RelayTransport[] = [];
      try {
        await body(fixture, async (feeds) => {
          const transport = fixture.transport();
          transports.push(transport);
          const replies = new Replies();
          const session = await transport.open({ ...fixture.hello, feeds }, replies.handlers);
          return { session, replies, transport };
        });
      } finally {
        for (const transport of transports) transport.shutdown();
        await fixture.close();
      }
    }

    it('answers Hello with a Welcome: the relay id, the protocol version, a mark of 0 for every new feed named, a batch limit, nothing revoked', async () => {
      await withRelay(async (fixture, open) => {
        const { session } = await open(['adt', 'results']);
        expect(session.welcome.relayId).toBe(fixture.relayId);
        expect(session.welcome.protocolVersion).toBe(PROTOCOL_VERSION);
        expect([...session.welcome.highWater]).toEqual([
          ['adt', 0],
          ['results', 0],
        ]);
        expect(session.welcome.maxBatchBytes).toBeGreaterThan(0);
        expect([...(session.welcome.revoked ?? [])]).toEqual([]);
        session.close();
      });
    });

    it('acknowledges each batch with the relay\'s mark, in order; a resend is acked as a duplicate at the mark; a gap is nacked with the seq expected', async () => {
      await withRelay(async (_fixture, open) => {
        const { session, replies } = await open(['adt']);
        await session.send(batch('adt', 1, 3));
        await session.send(batch('adt', 4, 5));
        await replies.until('two acks', () => replies.acks.length === 2);
        expect(replies.acks).toEqual([
          { feed: 'adt', seq: 3, duplicate: false },
          { feed: 'adt', seq: 5, duplicate: false },
        ]);
        await session.send(batch('adt', 1, 3));
        await replies.until('the duplicate ack', () => replies.acks.length === 3);
        expect(replies.acks[2]).toEqual({ feed: 'adt', seq: 5, duplicate: true });
        await session.send(batch('adt', 9, 10));
        await replies.until('the gap nack', () => replies.nacks.length === 1);
        expect(replies.nacks).toEqual([{ feed: 'adt', expected: 6, reason: 'gap' }]);
        expect(replies.closes).toEqual([]);
        session.close();
      });
    });

    it('keeps the acked mark across sessions: the next Welcome starts from it', async () => {
      await withRelay(async (_fixture, open) => {
        const first = await open(['adt']);
        await first.session.send(batch('adt', 1, 4));
        await first.replies.until('the ack', () => first.replies.acks.length === 1);
        first.session.close();
        const second = await open(['adt']);
        expect(second.session.welcome.highWater.get('adt')).toBe(4);
        second.session.close();
      });
    });

    it('close() ends the session once: onClose follows with the reason, a later send rejects retryable, a later close does nothing', async () => {
      await withRelay(async (_fixture, open) => {
        const { session, replies } = await open(['adt']);
        const reason = new Error('agent stopping');
        session.close(reason);
        await replies.until('onClose', () => replies.closes.length === 1);
        expect(replies.closes).toEqual([reason]);
        session.close();
        await expect(session.send(batch('adt', 1, 1))).rejects.toMatchObject({ name: 'RelayLinkError', retryable: true, phase: 'stream' });
        await new Promise((r) => setTimeout(r, 20));
        expect(replies.closes).toHaveLength(1);
      });
    });

    it('answers a revoke and a reinstate in order; the next Welcome lists the revoked feed', async () => {
      await withRelay(async (_fixture, open) => {
        const { session, replies } = await open(['adt']);
        await session.send(batch('adt', 1, 2));
        await replies.until('the ack', () => replies.acks.length === 1);
        session.sendControl({ kind: 'revoke', feed: 'adt', reason: 'contract test' });
        await replies.until('the revoke answer', () => replies.answers.length === 1);
        expect(replies.answers[0]).toMatchObject({ kind: 'revoke', feed: 'adt', highWaterSeq: 2, alreadyRevoked: false });
        session.close();

        const again = await open(['adt']);
        expect([...(again.session.welcome.revoked ?? [])]).toEqual(['adt']);
        await again.session.send(batch('adt', 3, 3));
        await again.replies.until('the revoked nack', () => again.replies.nacks.length === 1);
        expect(again.replies.nacks[0]).toMatchObject({ feed: 'adt', reason: 'revoked' });
        again.session.sendControl({ kind: 'reinstate', feed: 'adt', reason: 'contract test' });
        await again.replies.until('the reinstate answer', () => again.replies.answers.length === 1);
        expect(again.replies.answers[0]).toEqual({ kind: 'reinstate', feed: 'adt', highWaterSeq: 2, wasRevoked: true });
        again.session.close();
      });
    });

    it('offers blob transfer only when the Welcome lists blob-v1; then an offer says what is missing, parts resume at what is held, a stored chunk completes the instance', async () => {
      await withRelay(async (_fixture, open) => {
        const { session } = await open(['adt']);
        if (!session.welcome.features?.has(BLOB_FEATURE)) {
          // A relay without the feature: the session has no blob channel, and the agent never sends a blob message.
          expect(session.blobs).toBeUndefined();
          session.close();
          return;
        }
        const blobs = session.blobs!;
        const { chunks, manifest } = instance(150 * 1024);
        const chunk = chunks[0]!;
        const ref = manifest.chunks[0]!;
        expect(await blobs.offer({ feed: 'adt', manifest })).toEqual({ complete: false, missing: [{ index: 0, partialBytes: 0 }], dedupedBytes: 0 });
        expect(await blobs.sendPart({ feed: 'adt', chunkSha256: ref.sha256, chunkSize: ref.size, offset: 0, data: chunk.subarray(0, PART) })).toEqual({ received: PART, stored: false });
        // Cut short here: the next offer says how much of the chunk is held.
        expect(await blobs.offer({ feed: 'adt', manifest })).toEqual({ complete: false, missing: [{ index: 0, partialBytes: PART }], dedupedBytes: 0 });
        // A part at the wrong offset is refused, saying where to resume.
        await expect(blobs.sendPart({ feed: 'adt', chunkSha256: ref.sha256, chunkSize: ref.size, offset: 2 * PART, data: chunk.subarray(2 * PART) })).rejects.toMatchObject({ name: 'BlobRefusedError', received: PART });
        // Pipelined: both parts written before either answer is awaited.
        const [second, last] = await Promise.all([
          blobs.sendPart({ feed: 'adt', chunkSha256: ref.sha256, chunkSize: ref.size, offset: PART, data: chunk.subarray(PART, 2 * PART) }),
          blobs.sendPart({ feed: 'adt', chunkSha256: ref.sha256, chunkSize: ref.size, offset: 2 * PART, data: chunk.subarray(2 * PART) }),
        ]);
        expect(second).toEqual({ received: 2 * PART, stored: false });
        expect(last).toEqual({ received: chunk.length, stored: true });
        expect(await blobs.offer({ feed: 'adt', manifest })).toEqual({ complete: true, missing: [], dedupedBytes: 0 });
        session.close();
      });
    });

    it('counts what deduplication saved at a feed\'s first offer only: a second feed saves the whole instance, a re-offer or a new session of the same feed nothing', async () => {
      await withRelay(async (_fixture, open) => {
        const { session } = await open(['adt', 'orders']);
        if (!session.blobs) {
          session.close();
          return;
        }
        const { chunks, manifest } = instance(10_000);
        const ref = manifest.chunks[0]!;
        expect(await session.blobs.offer({ feed: 'adt', manifest })).toMatchObject({ complete: false, dedupedBytes: 0 });
        expect(await session.blobs.sendPart({ feed: 'adt', chunkSha256: ref.sha256, chunkSize: ref.size, offset: 0, data: chunks[0]! })).toEqual({ received: 10_000, stored: true });
        expect(await session.blobs.offer({ feed: 'adt', manifest })).toEqual({ complete: true, missing: [], dedupedBytes: 0 });
        expect(await session.blobs.offer({ feed: 'orders', manifest })).toEqual({ complete: true, missing: [], dedupedBytes: 10_000 });
        expect(await session.blobs.offer({ feed: 'orders', manifest })).toEqual({ complete: true, missing: [], dedupedBytes: 0 });
        session.close();
        // The agent restarted: what it sent itself before is not counted as saved.
        const again = await open(['adt', 'orders']);
        expect(await again.session.blobs!.offer({ feed: 'adt', manifest })).toEqual({ complete: true, missing: [], dedupedBytes: 0 });
        again.session.close();
      });
    });

    it('refuses a chunk whose bytes do not match its hash (it starts again from 0), and a batch naming an incomplete instance (blob-incomplete, expected = its first seq)', async () => {
      await withRelay(async (_fixture, open) => {
        const { session, replies } = await open(['adt']);
        if (!session.blobs) {
          session.close();
          return;
        }
        const { chunks, manifest, body } = instance(1000);
        const ref = manifest.chunks[0]!;
        await session.send(blobRefBatch('adt', 1, body));
        await replies.until('the blob-incomplete nack', () => replies.nacks.length === 1);
        expect(replies.nacks[0]).toEqual({ feed: 'adt', expected: 1, reason: 'blob-incomplete' });
        expect(await session.blobs.offer({ feed: 'adt', manifest })).toMatchObject({ complete: false });
        const wrong = Buffer.from(chunks[0]!);
        wrong[0] = wrong[0]! ^ 0xff;
        await expect(session.blobs.sendPart({ feed: 'adt', chunkSha256: ref.sha256, chunkSize: ref.size, offset: 0, data: wrong })).rejects.toMatchObject({ name: 'BlobRefusedError', received: 0 });
        expect(await session.blobs.sendPart({ feed: 'adt', chunkSha256: ref.sha256, chunkSize: ref.size, offset: 0, data: chunks[0]! })).toEqual({ received: 1000, stored: true });
        expect(await session.blobs.offer({ feed: 'adt', manifest })).toEqual({ complete: true, missing: [], dedupedBytes: 0 });
        await session.send(blobRefBatch('adt', 1, body));
        await replies.until('the ack', () => replies.acks.length === 1);
        expect(replies.acks[0]).toEqual({ feed: 'adt', seq: 1, duplicate: false });
        session.close();
      });
    });

    it('rejects blob requests still unanswered when the session ends, retryable; a request after the end rejects at once', async () => {
      await withRelay(async (_fixture, open) => {
        const { session } = await open(['adt']);
        if (!session.blobs) {
          session.close();
          return;
        }
        const { manifest } = instance(2000);
        const pending = session.blobs.offer({ feed: 'adt', manifest });
        session.close();
        await expect(pending).rejects.toMatchObject({ name: 'RelayLinkError', retryable: true });
        await expect(session.blobs.offer({ feed: 'adt', manifest })).rejects.toMatchObject({ name: 'RelayLinkError', retryable: true });
      });
    });

    /** Opens a session of protocol 2 declaring `channels`. */
    async function openInbound(fixture: RelayTransportFixture, transports: RelayTransport[], channels: string[]): Promise<{ session: RelaySession; replies: Replies }> {
      const transport = fixture.transport();
      transports.push(transport);
      const replies = new Replies();
      const session = await transport.open({ ...fixture.hello, feeds: [], protocolVersion: PROTOCOL_VERSION, inboundChannels: channels.map(channelDeclaration) }, replies.handlers);
      return { session, replies };
    }

    async function withInbound(ctx: { skip(note?: string): never }, body: (fixture: RelayTransportFixture & { inbound: NonNullable<RelayTransportFixture['inbound']> }, open: (channels: string[]) => Promise<{ session: RelaySession; replies: Replies }>) => Promise<void>): Promise<void> {
      const fixture = await factory();
      const transports: RelayTransport[] = [];
      try {
        if (!fixture.inbound) ctx.skip('this relay fixture writes no inbound events yet');
        await body(fixture as RelayTransportFixture & { inbound: NonNullable<RelayTransportFixture['inbound']> }, (channels) => openInbound(fixture, transports, channels));
      } finally {
        for (const transport of transports) transport.shutdown();
        await fixture.close();
      }
    }

    const booking = (patient: string, slot: number): object => ({ patient: { id: patient }, slot });

    it('offers the downlink on a stream of protocol 2: the Welcome lists inbound-v1 and the session has inbound', async (ctx) => {
      await withInbound(ctx, async (_fixture, open) => {
        const { session } = await open(['bookings']);
        expect(session.welcome.protocolVersion).toBe(PROTOCOL_VERSION);
        expect(session.welcome.features?.has(INBOUND_FEATURE)).toBe(true);
        expect(session.inbound).toBeDefined();
        session.close();
      });
    });

    it('delivers the events of a declared channel oldest first; after an ack a new stream resends only what is above the mark, without one everything', async (ctx) => {
      await withInbound(ctx, async (fixture, open) => {
        const first = await open(['bookings']);
        const ids = [];
        for (let i = 1; i <= 3; i++) ids.push(await fixture.inbound.write('bookings', `P${i}`, booking(`P${i}`, i)));
        await first.replies.until('3 inbound events', () => first.replies.delivered.length >= 3);
        const delivered = first.replies.delivered;
        expect(delivered.map((e) => e.id)).toEqual(ids);
        expect(delivered.map((e) => e.channelSeq)).toEqual([...delivered.map((e) => e.channelSeq)].sort((a, b) => a - b));
        expect(delivered[0]).toMatchObject({ channel: 'bookings', key: 'P1', contentType: 'json' });
        expect(JSON.parse(delivered[0]!.body.toString('utf8'))).toEqual(booking('P1', 1));
        expect(delivered[0]!.expiresAtMs).toBeGreaterThan(delivered[0]!.receivedAtMs);
        first.session.close();

        // Nothing acked: the next stream sends all three again.
        const second = await open(['bookings']);
        await second.replies.until('the resend', () => second.replies.delivered.length >= 3);
        expect(second.replies.delivered.map((e) => e.id)).toEqual(ids);
        second.session.inbound!.ack('bookings', delivered[1]!.channelSeq);
        // The ack is written before the close: the relay reads the stream in order.
        await second.replies.until('the backlog after the ack', () => second.replies.backlogs.some((b) => b.find((c) => c.channel === 'bookings')?.waiting === 1));
        second.session.close();

        const third = await open(['bookings']);
        await third.replies.until('the unacked event', () => third.replies.delivered.length >= 1);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(third.replies.delivered.map((e) => e.id)).toEqual([ids[2]]);
        third.session.close();
      });
    });

    it('answers each receipt: stored (a resend too), or refused with an error for an unknown id or a second final outcome', async (ctx) => {
      await withInbound(ctx, async (fixture, open) => {
        const { session, replies } = await open(['payments']);
        const id = await fixture.inbound.write('payments', 'P9', booking('P9', 9));
        await replies.until('the event', () => replies.delivered.length >= 1);
        session.inbound!.ack('payments', replies.delivered[0]!.channelSeq);
        const receipt = { id, channel: 'payments', outcome: 'accepted' as const, final: true, code: 'AA', reason: '', reference: 'A-1', attempts: 1, decidedAtMs: Date.now() };
        session.inbound!.sendReceipt({ ...receipt, ledgerHead: Buffer.alloc(32, 7), ledgerIndex: 12 });
        await replies.until('the receipt ack', () => replies.receiptAcks.length >= 1);
        expect(replies.receiptAcks[0]).toEqual({ id, final: true, outcome: 'accepted', error: '' });
        session.inbound!.sendReceipt(receipt);
        session.inbound!.sendReceipt({ ...receipt, outcome: 'refused', code: 'AR', reason: 'slot already taken', attempts: 2 });
        session.inbound!.sendReceipt({ ...receipt, id: 'ibaaaaaaaaaaaaaaaaaa' });
        await replies.until('three more acks', () => replies.receiptAcks.length >= 4);
        expect(replies.receiptAcks[1]).toEqual({ id, final: true, outcome: 'accepted', error: '' });
        expect(replies.receiptAcks[2]).toMatchObject({ id, outcome: 'refused' });
        expect(replies.receiptAcks[2]!.error).not.toBe('');
        expect(replies.receiptAcks[3]).toMatchObject({ id: 'ibaaaaaaaaaaaaaaaaaa' });
        expect(replies.receiptAcks[3]!.error).not.toBe('');
        session.close();
      });
    });

    it('reports the backlog of the declared channels: what waits, and when the oldest was written', async (ctx) => {
      await withInbound(ctx, async (fixture, open) => {
        const { session, replies } = await open(['bookings']);
        const before = Date.now();
        await fixture.inbound.write('bookings', 'P1', booking('P1', 1));
        await fixture.inbound.write('bookings', 'P2', booking('P2', 2));
        await replies.until('a backlog of 2', () => replies.backlogs.some((b) => b.find((c) => c.channel === 'bookings')?.waiting === 2), 8000);
        const report = replies.backlogs.findLast((b) => b.find((c) => c.channel === 'bookings')?.waiting === 2)!.find((c) => c.channel === 'bookings')!;
        expect(report.oldestReceivedAtMs).toBeGreaterThanOrEqual(before - 1000);
        await replies.until('the events', () => replies.delivered.length >= 2);
        session.inbound!.ack('bookings', replies.delivered[1]!.channelSeq);
        await replies.until('an empty backlog', () => replies.backlogs.at(-1)?.find((c) => c.channel === 'bookings')?.waiting === 0, 8000);
        expect(replies.backlogs.at(-1)!.find((c) => c.channel === 'bookings')!.oldestReceivedAtMs).toBeNull();
        session.close();
      });
    });

    it('speaks protocol 1 to an agent that asks for it: no inbound-v1, no downlink, feeds as before', async () => {
      await withRelay(async (fixture) => {
        const transport = fixture.transport();
        const replies = new Replies();
        try {
          const session = await transport.open({ ...fixture.hello, feeds: ['adt'], protocolVersion: 1 }, replies.handlers);
          expect(session.welcome.protocolVersion).toBe(1);
          expect(session.welcome.features?.has(INBOUND_FEATURE) ?? false).toBe(false);
          expect(session.inbound).toBeUndefined();
          await session.send(batch('adt', 1, 2));
          await replies.until('the ack', () => replies.acks.length >= 1);
          expect(replies.acks[0]).toEqual({ feed: 'adt', seq: 2, duplicate: false });
          session.close();
        } finally {
          transport.shutdown();
        }
      });
    });

    it('reports an older relay\'s refusal of protocol 2 as RelayProtocolTooOldError with the version it speaks; protocol 1 is then welcomed without the downlink', async (ctx) => {
      const fixture = await factory();
      try {
        if (!fixture.olderRelay) ctx.skip('no relay of protocol 1 here');
        const older = await fixture.olderRelay!();
        try {
          const refused = older.transport.open({ ...fixture.hello, feeds: ['adt'], inboundChannels: [channelDeclaration('bookings')] }, new Replies().handlers);
          await expect(refused).rejects.toMatchObject({ name: 'RelayProtocolTooOldError', code: 'WL_A040', relayVersion: 1 });
          await expect(refused).rejects.toThrow(/protocol version/);
          const session = await older.transport.open({ ...fixture.hello, feeds: ['adt'], protocolVersion: 1 }, new Replies().handlers);
          expect(session.welcome.protocolVersion).toBe(1);
          expect(session.inbound).toBeUndefined();
          session.close();
        } finally {
          older.transport.shutdown();
          await older.close();
        }
      } finally {
        await fixture.close();
      }
    });

    it('rejects an attempt whose signal is already aborted, retryable, without a session', async () => {
      await withRelay(async (fixture) => {
        const transport = fixture.transport();
        const replies = new Replies();
        const abandon = new AbortController();
        abandon.abort(new Error('reconnect requested by operator'));
        try {
          const opened = transport.open({ ...fixture.hello, feeds: ['adt'] }, replies.handlers, abandon.signal);
          await expect(opened).rejects.toBeInstanceOf(RelayLinkError);
          await expect(opened).rejects.toMatchObject({ retryable: true });
        } finally {
          transport.shutdown();
        }
      });
    });

    it('rejects an attempt on a dead address in the connect phase, retryable (the backoff tries again)', async () => {
      await withRelay(async (fixture) => {
        const transport = fixture.deadTransport();
        try {
          const opened = transport.open({ ...fixture.hello, feeds: ['adt'] }, new Replies().handlers);
          await expect(opened).rejects.toBeInstanceOf(RelayLinkError);
          await expect(opened).rejects.toMatchObject({ retryable: true, phase: 'connect' });
        } finally {
          transport.shutdown();
        }
      });
    });
  });
}
