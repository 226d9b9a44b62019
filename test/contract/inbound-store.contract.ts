// The InboundStore contract (cloud-relay/inbound/inbound-store.ts), run against
// every backend: SQLite now (inbound-store.sqlite.contract.test.ts), PostgreSQL
// next. A backend hands the suite a store, a way to reopen the same storage after
// close(), and a cleanup; nothing here knows how it keeps its data.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InboundStore, InboundWrite } from '../../cloud-relay/inbound/index.js';
import { InboundStoreClosedError, InboundUnknownChannelError } from '../../cloud-relay/inbound/index.js';
import { INBOUND_ID_PATTERN, type InboundChannelDeclaration, type InboundReceipt } from '../../protocol/index.js';

export interface InboundStoreFixture {
  store: InboundStore;
  /** Opens the same storage again (the suite closes the previous store first). */
  reopen(): Promise<InboundStore>;
  /** Closes whatever is open and removes the storage. */
  cleanup(): Promise<void>;
}

const H = 'h-zj-002';
const OTHER_H = 'h-sh-001';

export function declaration(name: string, extra: Partial<InboundChannelDeclaration> = {}): InboundChannelDeclaration {
  return {
    name,
    defaultTtlMs: 60_000,
    maxTtlMs: 600_000,
    maxBodyBytes: 65_536,
    contentTypes: ['json'],
    keyPath: '$.patient.id',
    requiredFields: [{ path: '$.slot', type: 'string' }],
    ...extra,
  };
}

function write(extra: Partial<InboundWrite> = {}): InboundWrite {
  return {
    hospital: H,
    channel: 'bookings',
    vendor: 'patient-app',
    idempotencyKey: 'k-1',
    contentType: 'json',
    body: Buffer.from('{"patient":{"id":"p1"},"slot":"s1"}'),
    key: 'p1',
    receivedAtMs: 1_000,
    expiresAtMs: 61_000,
    ...extra,
  };
}

function receipt(id: string, extra: Partial<InboundReceipt> = {}): InboundReceipt {
  return { id, channel: 'bookings', outcome: 'accepted', final: true, code: 'AA', reason: '', reference: 'APPT-1', attempts: 1, decidedAtMs: 5_000, ...extra };
}

export function describeInboundStoreContract(label: string, open: () => Promise<InboundStoreFixture>): void {
  describe(`InboundStore contract: ${label}`, () => {
    let fixture: InboundStoreFixture;
    let store: InboundStore;

    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
      await store.declareChannels(H, [declaration('bookings'), declaration('payments')], 500);
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    async function writeN(n: number, extra: Partial<InboundWrite> = {}): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 1; i <= n; i++) {
        const result = await store.write(write({ idempotencyKey: `k-${i}`, body: Buffer.from(`{"patient":{"id":"p${i}"},"slot":"s${i}"}`), key: `p${i}`, ...extra }));
        expect(result.kind).toBe('created');
        if (result.kind === 'created') ids.push(result.record.id);
      }
      return ids;
    }

    it('keeps the latest declaration; a channel left out is still known; another hospital sees none', async () => {
      expect(await store.channel(H, 'bookings')).toEqual(declaration('bookings'));
      await store.declareChannels(H, [declaration('bookings', { maxBodyBytes: 1024 })], 600);
      expect((await store.channel(H, 'bookings'))!.maxBodyBytes).toBe(1024);
      expect(await store.channel(H, 'payments')).toEqual(declaration('payments'));
      expect((await store.channels(H)).map((c) => c.name)).toEqual(['bookings', 'payments']);
      expect(await store.channel(OTHER_H, 'bookings')).toBeUndefined();
      expect(await store.channel(H, 'refunds')).toBeUndefined();
    });

    it('stores a write with an id of the pattern, state waiting, its body and its SHA-256', async () => {
      const result = await store.write(write());
      expect(result.kind).toBe('created');
      if (result.kind !== 'created') return;
      const record = result.record;
      expect(record.id).toMatch(INBOUND_ID_PATTERN);
      expect(record).toMatchObject({ hospital: H, channel: 'bookings', channelSeq: 1, key: 'p1', vendor: 'patient-app', idempotencyKey: 'k-1', contentType: 'json', state: 'waiting', firstSentAtMs: null, ackedAtMs: null, receipt: null, receivedAtMs: 1_000, expiresAtMs: 61_000 });
      expect(record.bodySha256).toBe(createHash('sha256').update(write().body).digest('hex'));
      expect(Buffer.from(record.body).equals(write().body)).toBe(true);
      expect(await store.get(H, record.id)).toEqual(record);
      expect(await store.get(OTHER_H, record.id)).toBeUndefined();
    });

    it('answers a repeated Idempotency-Key with the first record, and another body under it with a conflict', async () => {
      const first = await store.write(write());
      const again = await store.write(write({ receivedAtMs: 9_999 }));
      expect(again.kind).toBe('replayed');
      if (first.kind !== 'created' || again.kind !== 'replayed') return;
      expect(again.record.id).toBe(first.record.id);
      expect(again.record.receivedAtMs).toBe(1_000);
      const other = await store.write(write({ body: Buffer.from('{"patient":{"id":"p1"},"slot":"s2"}') }));
      expect(other.kind).toBe('conflict');
      if (other.kind === 'conflict') expect(other.existing.id).toBe(first.record.id);
      // The key is per vendor and per channel: the same key elsewhere is another event.
      const otherVendor = await store.write(write({ vendor: 'billing-app' }));
      const otherChannel = await store.write(write({ channel: 'payments' }));
      expect(otherVendor.kind).toBe('created');
      expect(otherChannel.kind).toBe('created');
      expect(await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 2_000)).toHaveLength(2);
    });

    it('numbers events per (hospital, channel) from 1 and gives each a distinct id', async () => {
      const ids = await writeN(3);
      const pay = await store.write(write({ channel: 'payments' }));
      await store.declareChannels(OTHER_H, [declaration('bookings')], 500);
      const other = await store.write(write({ hospital: OTHER_H }));
      expect(new Set(ids).size).toBe(3);
      expect((await Promise.all(ids.map((id) => store.get(H, id)))).map((r) => r!.channelSeq)).toEqual([1, 2, 3]);
      expect(pay.kind === 'created' && pay.record.channelSeq).toBe(1);
      expect(other.kind === 'created' && other.record.channelSeq).toBe(1);
    });

    it('refuses a write to a channel never declared', async () => {
      await expect(store.write(write({ channel: 'refunds' }))).rejects.toBeInstanceOf(InboundUnknownChannelError);
    });

    it('takeToSend: oldest first after a seq, within limit and bytes (at least one), marked sent once', async () => {
      const ids = await writeN(5);
      const first = await store.takeToSend(H, 'bookings', 0, 2, 1 << 20, 2_000);
      expect(first.map((r) => r.id)).toEqual(ids.slice(0, 2));
      expect(first.every((r) => r.state === 'sent' && r.firstSentAtMs === 2_000)).toBe(true);
      expect((await store.get(H, ids[0]!))!.state).toBe('sent');
      const body = write().body.length;
      const byBytes = await store.takeToSend(H, 'bookings', 2, 100, body * 2 + 1, 3_000);
      expect(byBytes.map((r) => r.channelSeq)).toEqual([3, 4]);
      expect((await store.takeToSend(H, 'bookings', 4, 100, 1, 3_000)).map((r) => r.channelSeq)).toEqual([5]);
      // A resend after a cut keeps the first send time.
      const resent = await store.takeToSend(H, 'bookings', 0, 1, 1 << 20, 9_000);
      expect(resent[0]!.firstSentAtMs).toBe(2_000);
      expect(await store.takeToSend(H, 'payments', 0, 100, 1 << 20, 3_000)).toEqual([]);
    });

    it('takeToSend skips a never-sent event past its TTL; expireUnsent ends it with a final expired receipt', async () => {
      const [short] = await writeN(1, { expiresAtMs: 1_500 });
      const later = await store.write(write({ idempotencyKey: 'k-late', expiresAtMs: 100_000 }));
      const taken = await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 2_000);
      expect(taken.map((r) => r.id)).toEqual([later.kind === 'created' ? later.record.id : '']);
      const expired = await store.expireUnsent(2_000);
      expect(expired.map((r) => r.id)).toEqual([short]);
      expect(expired[0]).toMatchObject({ state: 'expired', receipt: { outcome: 'expired', final: true, attempts: 0, receiptSeq: 1 } });
      expect(await store.expireUnsent(3_000)).toEqual([]);
      expect(await store.receipts(H, 'bookings', 'patient-app', 0, 10)).toMatchObject([{ id: short, outcome: 'expired', final: true, receiptSeq: 1, key: 'p1', vendor: 'patient-app' }]);
    });

    it('expireUnsent never expires an event that was sent, even long past its TTL', async () => {
      const [id] = await writeN(1, { expiresAtMs: 1_500 });
      await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 1_000);
      expect(await store.expireUnsent(1_000_000)).toEqual([]);
      expect((await store.get(H, id!))!.state).toBe('sent');
      // Sent and past its TTL: resent after a cut, so the agent can end it.
      expect((await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 1_000_000)).map((r) => r.id)).toEqual([id]);
    });

    it('ack moves a cumulative mark (never backward, never past what was numbered) and marks events at-hospital', async () => {
      const ids = await writeN(3);
      expect(await store.ackedSeq(H, 'bookings')).toBe(0);
      await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 2_000);
      expect(await store.ack(H, 'bookings', 2, 3_000)).toBe(2);
      expect(await store.ack(H, 'bookings', 1, 3_100)).toBe(2);
      expect(await store.ack(H, 'bookings', 99, 3_200)).toBe(3);
      expect(await store.ackedSeq(H, 'bookings')).toBe(3);
      const records = await Promise.all(ids.map((id) => store.get(H, id)));
      expect(records.map((r) => r!.state)).toEqual(['at-hospital', 'at-hospital', 'at-hospital']);
      expect(records[0]!.ackedAtMs).toBe(3_000);
      expect(await store.ackedSeq(H, 'payments')).toBe(0);
    });

    it('stores receipts idempotently; exactly one final per event, the first stands', async () => {
      const [id] = await writeN(1);
      expect(await store.storeReceipt(H, receipt(id!), 5_000)).toMatchObject({ kind: 'unknown' });
      await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 2_000);
      const quarantine = receipt(id!, { outcome: 'quarantined', final: false, code: 'AE', reason: 'HIS error', reference: '', attempts: 10 });
      expect(await store.storeReceipt(H, quarantine, 4_000)).toEqual({ kind: 'stored', receiptSeq: 1 });
      expect(await store.storeReceipt(H, quarantine, 4_100)).toEqual({ kind: 'duplicate', receiptSeq: 1 });
      expect((await store.get(H, id!))!).toMatchObject({ state: 'quarantined', receipt: { outcome: 'quarantined', receiptSeq: 1 } });
      expect(await store.storeReceipt(H, receipt(id!, { attempts: 11 }), 5_000)).toEqual({ kind: 'stored', receiptSeq: 2 });
      expect(await store.storeReceipt(H, receipt(id!, { attempts: 11 }), 5_100)).toEqual({ kind: 'duplicate', receiptSeq: 2 });
      expect(await store.storeReceipt(H, receipt(id!, { outcome: 'refused', code: 'AR', attempts: 12 }), 5_200)).toMatchObject({ kind: 'conflict' });
      const record = (await store.get(H, id!))!;
      expect(record).toMatchObject({ state: 'accepted', receipt: { outcome: 'accepted', final: true, reference: 'APPT-1', attempts: 11, receiptSeq: 2 } });
      expect((await store.receipts(H, 'bookings', 'patient-app', 0, 10)).map((r) => [r.receiptSeq, r.outcome])).toEqual([
        [1, 'quarantined'],
        [2, 'accepted'],
      ]);
      // Wrong channel or hospital: unknown.
      expect(await store.storeReceipt(H, receipt(id!, { channel: 'payments', attempts: 20 }), 5_300)).toMatchObject({ kind: 'unknown' });
      expect(await store.storeReceipt(OTHER_H, receipt(id!, { attempts: 21 }), 5_300)).toMatchObject({ kind: 'unknown' });
    });

    it('a receipt for an event the relay already expired is refused: one final', async () => {
      const [id] = await writeN(1, { expiresAtMs: 1_500 });
      await store.expireUnsent(2_000);
      expect((await store.storeReceipt(H, receipt(id!), 3_000)).kind).not.toBe('stored');
      expect((await store.get(H, id!))!.state).toBe('expired');
    });

    it('the receipts feed: per vendor, after a cursor, limited, numbered per (hospital, channel)', async () => {
      const mine = await writeN(3);
      const theirs = await store.write(write({ vendor: 'billing-app', idempotencyKey: 'x' }));
      const pay = await store.write(write({ channel: 'payments', idempotencyKey: 'y' }));
      await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 2_000);
      await store.takeToSend(H, 'payments', 0, 100, 1 << 20, 2_000);
      const theirId = theirs.kind === 'created' ? theirs.record.id : '';
      await store.storeReceipt(H, receipt(mine[0]!), 5_000);
      await store.storeReceipt(H, receipt(theirId), 5_000);
      await store.storeReceipt(H, receipt(mine[1]!, { outcome: 'refused', code: 'AR', reason: 'slot already taken', reference: '' }), 5_000);
      await store.storeReceipt(H, receipt(mine[2]!), 5_000);
      await store.storeReceipt(H, receipt(pay.kind === 'created' ? pay.record.id : '', { channel: 'payments' }), 5_000);
      const all = await store.receipts(H, 'bookings', 'patient-app', 0, 100);
      expect(all.map((r) => [r.receiptSeq, r.id])).toEqual([
        [1, mine[0]],
        [3, mine[1]],
        [4, mine[2]],
      ]);
      expect(all[1]).toMatchObject({ hospital: H, outcome: 'refused', final: true, reason: 'slot already taken', code: 'AR', storedAtMs: 5_000, key: 'p2' });
      expect((await store.receipts(H, 'bookings', 'patient-app', 1, 1)).map((r) => r.receiptSeq)).toEqual([3]);
      expect((await store.receipts(H, 'bookings', 'billing-app', 0, 100)).map((r) => r.id)).toEqual([theirId]);
      expect((await store.receipts(H, 'payments', 'patient-app', 0, 100)).map((r) => r.receiptSeq)).toEqual([1]);
      expect(await store.receipts(OTHER_H, 'bookings', 'patient-app', 0, 100)).toEqual([]);
    });

    it('backlog: per declared channel, what is not acked and not ended, with the oldest arrival', async () => {
      expect(await store.backlog(H)).toEqual([
        { channel: 'bookings', waiting: 0, oldestReceivedAtMs: null },
        { channel: 'payments', waiting: 0, oldestReceivedAtMs: null },
      ]);
      await writeN(1, { receivedAtMs: 1_100 });
      await store.write(write({ idempotencyKey: 'k-2', receivedAtMs: 1_200 }));
      await store.write(write({ idempotencyKey: 'k-3', receivedAtMs: 1_300, expiresAtMs: 1_400 }));
      await store.expireUnsent(1_500);
      await store.takeToSend(H, 'bookings', 0, 1, 1 << 20, 1_600);
      // Sent but not acked still waits for the agent.
      expect((await store.backlog(H))[0]).toEqual({ channel: 'bookings', waiting: 2, oldestReceivedAtMs: 1_100 });
      await store.ack(H, 'bookings', 1, 1_700);
      expect((await store.backlog(H))[0]).toEqual({ channel: 'bookings', waiting: 1, oldestReceivedAtMs: 1_200 });
    });

    it('subscribe: told of every new write and stored receipt of its hospital, until unsubscribed', async () => {
      const heard: [string, string][] = [];
      const unsubscribe = store.subscribe(H, (what, channel) => heard.push([what, channel]));
      const otherHeard: string[] = [];
      store.subscribe(OTHER_H, (what) => otherHeard.push(what));
      const [id] = await writeN(1);
      await store.write(write()); // a replay is not news
      await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 2_000);
      await store.storeReceipt(H, receipt(id!), 5_000);
      await store.storeReceipt(H, receipt(id!), 5_000); // a duplicate is not news
      await store.write(write({ channel: 'payments', idempotencyKey: 'p', expiresAtMs: 1_500 }));
      await store.expireUnsent(2_000);
      expect(heard).toEqual([
        ['write', 'bookings'],
        ['receipt', 'bookings'],
        ['write', 'payments'],
        ['receipt', 'payments'],
      ]);
      unsubscribe();
      await store.write(write({ idempotencyKey: 'after' }));
      expect(heard).toHaveLength(4);
      expect(otherHeard).toEqual([]);
    });

    it('deleteFinalBefore removes ended events and their receipts, never what is still open, and never reuses a number', async () => {
      const ids = await writeN(3);
      await store.takeToSend(H, 'bookings', 0, 100, 1 << 20, 2_000);
      await store.storeReceipt(H, receipt(ids[0]!), 5_000);
      await store.storeReceipt(H, receipt(ids[1]!, { outcome: 'quarantined', final: false, attempts: 10 }), 5_000);
      expect(await store.deleteFinalBefore(5_000, 100)).toBe(0);
      expect(await store.deleteFinalBefore(5_001, 100)).toBe(1);
      expect(await store.get(H, ids[0]!)).toBeUndefined();
      expect((await store.get(H, ids[1]!))!.state).toBe('quarantined');
      expect((await store.receipts(H, 'bookings', 'patient-app', 0, 100)).map((r) => r.receiptSeq)).toEqual([2]);
      const next = await store.write(write({ idempotencyKey: 'k-4' }));
      expect(next.kind === 'created' && next.record.channelSeq).toBe(4);
      await store.storeReceipt(H, receipt(ids[2]!), 6_000);
      expect((await store.receipts(H, 'bookings', 'patient-app', 2, 100)).map((r) => r.receiptSeq)).toEqual([3]);
    });

    it("forgetHospital deletes the hospital's events, receipts and channels, and nothing of another hospital", async () => {
      const ids = await writeN(3);
      await store.takeToSend(H, 'bookings', 0, 10, 1 << 20, 2_000);
      await store.storeReceipt(H, receipt(ids[0]!), 6_000);
      await store.declareChannels(OTHER_H, [declaration('bookings')], 500);
      const other = await store.write(write({ hospital: OTHER_H }));
      expect(await store.forgetHospital(H)).toEqual({ events: 3, receipts: 1 });
      expect(await store.get(H, ids[0]!)).toBeUndefined();
      expect(await store.channels(H)).toEqual([]);
      expect(await store.receipts(H, 'bookings', 'patient-app', 0, 10)).toEqual([]);
      expect(await store.backlog(H)).toEqual([]);
      expect(other.kind).toBe('created');
      if (other.kind === 'created') expect((await store.get(OTHER_H, other.record.id))?.id).toBe(other.record.id);
      expect(await store.forgetHospital(H)).toEqual({ events: 0, receipts: 0 });
    });

    it('keeps everything across close and reopen', async () => {
      const ids = await writeN(2);
      await store.takeToSend(H, 'bookings', 0, 1, 1 << 20, 2_000);
      await store.ack(H, 'bookings', 1, 3_000);
      await store.storeReceipt(H, receipt(ids[0]!), 5_000);
      const before = await Promise.all(ids.map((id) => store.get(H, id)));
      await store.close();
      await expect(store.get(H, ids[0]!)).rejects.toBeInstanceOf(InboundStoreClosedError);
      store = await fixture.reopen();
      expect(await Promise.all(ids.map((id) => store.get(H, id)))).toEqual(before);
      expect(await store.channel(H, 'bookings')).toEqual(declaration('bookings'));
      expect(await store.ackedSeq(H, 'bookings')).toBe(1);
      expect((await store.receipts(H, 'bookings', 'patient-app', 0, 10)).map((r) => r.id)).toEqual([ids[0]]);
      const replay = await store.write(write({ idempotencyKey: 'k-2', body: Buffer.from('{"patient":{"id":"p2"},"slot":"s2"}') }));
      expect(replay.kind === 'replayed' && replay.record.id).toBe(ids[1]);
      const next = await store.write(write({ idempotencyKey: 'k-3' }));
      expect(next.kind === 'created' && next.record.channelSeq).toBe(3);
    });
  });
}
