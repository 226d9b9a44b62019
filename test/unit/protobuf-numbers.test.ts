import { describe, expect, it } from 'vitest';
import { pb } from '../../protocol/index.js';

describe('protobuf 64-bit fields', () => {
  it('decode as plain numbers, including a zero that was never on the wire', () => {
    const bytes = pb.RelayMessage.encode({ welcome: { positions: [{ feed: 'never-seen', highWaterSeq: 0 }, { feed: 'busy', highWaterSeq: 123456789012 }] } }).finish();
    const positions = pb.RelayMessage.decode(bytes).welcome!.positions!;
    expect(positions.map((p) => p.highWaterSeq)).toEqual([0, 123456789012]);
    expect(typeof positions[0]!.highWaterSeq).toBe('number');
    expect((positions[0]!.highWaterSeq as number) + 1).toBe(1);
    // SubscribeRequest.after is proto3 optional: an absent cursor is told apart from a sent 0.
    expect(pb.SubscribeRequest.decode(pb.SubscribeRequest.encode({ feed: 'f' }).finish()).after ?? null).toBeNull();
    expect(pb.SubscribeRequest.decode(pb.SubscribeRequest.encode({ feed: 'f', after: 0 }).finish()).after).toBe(0);
  });
});
