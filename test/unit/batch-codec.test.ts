import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import {
  BatchDecodeError,
  ErrorCode,
  MAX_BATCH_INFLATION_RATIO,
  MAX_UNCOMPRESSED_BYTES,
  MIN_BATCH_INFLATION_BYTES,
  batchInflationLimit,
  decodeEvents,
  decodeEventsAsync,
  encodeEvents,
  encodeEventsAsync,
  maxUncompressedBatchBytes,
  pb,
  sha256,
  type CodecName,
  type JournalEvent,
} from '../../protocol/index.js';

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

  for (const codec of ['none', 'gzip', 'deflate', 'brotli'] as CodecName[]) {
    it(`decodes ${codec} on the thread pool within the inflation limit`, async () => {
      const encoded = encodeEvents(events, codec);
      expect(await decodeEventsAsync({ ...encoded, firstSeq: 5, lastSeq: 8, eventCount: 3 }, 4 * 1024 * 1024)).toEqual(events);
    });
  }

  it('bounds inflation by the payload ratio, a floor for tiny payloads, and the per-batch ceiling', () => {
    const maxBatchBytes = 4 * 1024 * 1024;
    expect(maxUncompressedBatchBytes(maxBatchBytes)).toBe(32 * 1024 * 1024);
    expect(maxUncompressedBatchBytes(MAX_UNCOMPRESSED_BYTES)).toBe(MAX_UNCOMPRESSED_BYTES);
    expect(batchInflationLimit(10, maxBatchBytes)).toBe(MIN_BATCH_INFLATION_BYTES);
    expect(batchInflationLimit(1000, maxBatchBytes)).toBe(1000 * MAX_BATCH_INFLATION_RATIO);
    expect(batchInflationLimit(maxBatchBytes, maxBatchBytes)).toBe(32 * 1024 * 1024);
  });

  const bomb = (bytes: number) => {
    const payload = gzipSync(Buffer.alloc(bytes));
    return { codec: pb.Codec.CODEC_GZIP, payload, payloadSha256: sha256(payload), firstSeq: 1, lastSeq: 1, eventCount: 1 };
  };
  const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: BatchDecodeError) => ({ code: error.code, message: error.message }));

  it('stops inflating a payload past its ratio and says so (code BATCH_INFLATION)', async () => {
    const batch = bomb(8 * 1024 * 1024); // ~8 KB of gzip: its limit is ~8 MB / 1024 x 1024, far below 8 MiB
    expect(await refusal(decodeEventsAsync(batch, 4 * 1024 * 1024))).toEqual({ code: ErrorCode.BATCH_INFLATION, message: expect.stringMatching(/inflates past \d+ bytes/) });
  });

  it('refuses a declared uncompressed size past the limit before inflating, and a size that does not match', async () => {
    const encoded = encodeEvents(events, 'gzip');
    const fields = { ...encoded, firstSeq: 5, lastSeq: 8, eventCount: 3 };
    expect(await refusal(decodeEventsAsync({ ...fields, uncompressedBytes: 64 * 1024 * 1024 }, 4 * 1024 * 1024))).toEqual({
      code: ErrorCode.BATCH_INFLATION,
      message: expect.stringContaining('uncompressed_bytes says 67108864'),
    });
    expect(await refusal(decodeEventsAsync({ ...fields, uncompressedBytes: encoded.uncompressedBytes + 1 }, 4 * 1024 * 1024))).toEqual({
      code: ErrorCode.BAD_BATCH,
      message: expect.stringContaining(`inflates to ${encoded.uncompressedBytes}`),
    });
    // Declared smaller than the truth: inflation stops at the declared size.
    expect(await refusal(decodeEventsAsync({ ...fields, uncompressedBytes: encoded.uncompressedBytes - 1 }, 4 * 1024 * 1024))).toMatchObject({ code: ErrorCode.BATCH_INFLATION });
  });
});
