import { describe, expect, it } from 'vitest';
import { BatchDecodeError, decodeEvents, encodeEvents, encodeEventsAsync, pb, sha256, type CodecName, type JournalEvent } from '../../protocol/index.js';

const events: JournalEvent[] = [5, 7, 8].map((seq) => ({
  seq,
  stream: 'adt',
  key: `P${seq}`,
  op: 'upsert',
  tsMs: 1_700_000_000_000 + seq,
  source: 'lis',
  contentType: 'hl7v2',
  body: Buffer.from(`MSH|^~\\&|HIS|医院|WARDLINE||20240101||ADT^A08|${seq}|P|2.5\rPID|1||P${seq}||张三^丰`),
  headers: { controlId: String(seq) },
}));

describe('batch codec', () => {
  for (const codec of ['none', 'gzip', 'deflate', 'brotli'] as CodecName[]) {
    it(`round-trips events through ${codec}`, () => {
      const encoded = encodeEvents(events, codec);
      const decoded = decodeEvents({ ...encoded, firstSeq: 4, lastSeq: 9, eventCount: 3 });
      expect(decoded).toEqual(events);
    });

    it(`compresses ${codec} off the event loop to the same bytes`, async () => {
      const encoded = await encodeEventsAsync(events, codec);
      expect(encoded.payload).toEqual(encodeEvents(events, codec).payload);
      expect(decodeEvents({ ...encoded, firstSeq: 5, lastSeq: 8, eventCount: 3 })).toEqual(events);
    });
  }

  it('refuses a payload whose SHA-256 does not match', () => {
    const encoded = encodeEvents(events, 'gzip');
    encoded.payload[encoded.payload.length - 5]! ^= 0xff;
    expect(() => decodeEvents({ ...encoded, firstSeq: 5, lastSeq: 8, eventCount: 3 })).toThrow(/SHA-256/);
  });

  it('refuses events outside the declared range or a wrong count', () => {
    const encoded = encodeEvents(events, 'none');
    expect(() => decodeEvents({ ...encoded, firstSeq: 6, lastSeq: 8, eventCount: 3 })).toThrow(BatchDecodeError);
    expect(() => decodeEvents({ ...encoded, firstSeq: 5, lastSeq: 7, eventCount: 3 })).toThrow(/outside the batch range/);
    expect(() => decodeEvents({ ...encoded, firstSeq: 5, lastSeq: 8, eventCount: 2 })).toThrow(/event_count says 2/);
  });

  it('refuses an unknown codec and garbage that does not inflate', () => {
    const encoded = encodeEvents(events, 'none');
    expect(() => decodeEvents({ ...encoded, codec: 99, firstSeq: 5, lastSeq: 8, eventCount: 3 })).toThrow(/unknown codec 99/);
    const garbage = Buffer.from('definitely not gzip');
    expect(() =>
      decodeEvents({ codec: pb.Codec.CODEC_GZIP, payload: garbage, payloadSha256: sha256(garbage), firstSeq: 1, lastSeq: 1, eventCount: 0 }),
    ).toThrow(/does not decompress/);
  });
});
