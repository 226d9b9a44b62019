// The vendor-facing JSON of the inbound API (protocol/inbound-json.ts): what vendor clients parse.
import { describe, expect, it } from 'vitest';
import { inboundEventPath, inboundReceiptsPath, inboundWritePath, toInboundStatusJson, toReceiptJson } from '../../protocol/index.js';

const receipt = { id: 'ibaaaaaaaaaaaaaaaaaa', channel: 'bookings', outcome: 'refused' as const, final: true, code: 'AR', reason: 'slot already taken', reference: '', attempts: 2, decidedAtMs: Date.UTC(2026, 11, 3, 10, 0, 0), receiptSeq: 7 };

describe('inbound JSON', () => {
  it('a receipt: ISO times, the cursor, key and storedAt only when known', () => {
    expect(toReceiptJson(receipt)).toEqual({ ...receipt, decidedAtMs: undefined, decidedAt: '2026-12-03T10:00:00.000Z' } as unknown);
    expect(toReceiptJson({ ...receipt, key: 'p-1', storedAtMs: Date.UTC(2026, 11, 3, 10, 0, 1) })).toMatchObject({ key: 'p-1', storedAt: '2026-12-03T10:00:01.000Z' });
    expect(Object.keys(toReceiptJson(receipt))).not.toContain('decidedAtMs');
  });

  it("an event's status: where it is, its times, and its receipt with the event's key", () => {
    const status = toInboundStatusJson({
      id: receipt.id,
      hospital: 'h2',
      channel: 'bookings',
      key: 'p-1',
      idempotencyKey: 'w-1',
      state: 'refused',
      receivedAtMs: Date.UTC(2026, 11, 3, 9, 0, 0),
      expiresAtMs: Date.UTC(2026, 11, 3, 11, 0, 0),
      firstSentAtMs: Date.UTC(2026, 11, 3, 9, 0, 1),
      ackedAtMs: null,
      receipt,
    });
    expect(status).toMatchObject({ state: 'refused', receivedAt: '2026-12-03T09:00:00.000Z', expiresAt: '2026-12-03T11:00:00.000Z', sentAt: '2026-12-03T09:00:01.000Z', atHospitalAt: null });
    expect(status.receipt).toMatchObject({ outcome: 'refused', key: 'p-1', receiptSeq: 7 });
  });

  it('paths encode their segments', () => {
    expect(inboundWritePath('h2', 'bookings')).toBe('/v1/hospitals/h2/inbound/bookings');
    expect(inboundEventPath('h2', receipt.id)).toBe(`/v1/hospitals/h2/inbound/${receipt.id}`);
    expect(inboundReceiptsPath('h 2', 'bookings')).toBe('/v1/hospitals/h%202/inbound/bookings/receipts');
  });
});
