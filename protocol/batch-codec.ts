// Encodes a feed's events into a Batch payload and back. Both sides use this
// file, so the codec and the checksum can never disagree.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import {
  brotliCompress,
  brotliCompressSync,
  brotliDecompressSync,
  constants as zlibConstants,
  deflateRaw,
  deflateRawSync,
  gunzipSync,
  gzip,
  gzipSync,
  inflateRawSync,
  type BrotliOptions,
} from 'node:zlib';
import { BatchDecodeError, ErrorCode } from './errors.js';
import { eventFromProto, eventToProto, type JournalEvent } from './event.js';
import { pb } from './messages.js';

export type CodecName = 'none' | 'gzip' | 'deflate' | 'brotli';

export const CODEC_NAMES: readonly CodecName[] = ['none', 'gzip', 'deflate', 'brotli'];

const CODEC_TO_PROTO: Record<CodecName, number> = {
  none: pb.Codec.CODEC_NONE,
  gzip: pb.Codec.CODEC_GZIP,
  deflate: pb.Codec.CODEC_DEFLATE,
  brotli: pb.Codec.CODEC_BROTLI,
};

// Brotli at quality 5 compresses HL7 text far better than deflate while staying
// fast enough for a 2-core appliance; quality 11 costs ~20x the CPU for a few percent.
const BROTLI_QUALITY = 5;
/** Refuse to inflate a payload beyond this, so a hostile batch cannot exhaust memory. */
export const MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024;

export interface EncodedPayload {
  codec: number;
  payload: Buffer;
  payloadSha256: Buffer;
  uncompressedBytes: number;
}

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** Encodes and compresses on the calling thread (tests, tools). */
export function encodeEvents(events: readonly JournalEvent[], codec: CodecName): EncodedPayload {
  const raw = encodeEventList(events);
  return describePayload(raw, CODECS[codec].compressSync(raw), codec);
}

/**
 * Encodes on the calling thread and compresses on libuv's thread pool, so a
 * megabyte of brotli never stalls the agent's event loop (and with it, HL7 ACKs).
 */
export async function encodeEventsAsync(events: readonly JournalEvent[], codec: CodecName): Promise<EncodedPayload> {
  const raw = encodeEventList(events);
  return describePayload(raw, await CODECS[codec].compress(raw), codec);
}

function encodeEventList(events: readonly JournalEvent[]): Buffer {
  const list = pb.EventList.encode({ events: events.map(eventToProto) }).finish();
  return Buffer.from(list.buffer, list.byteOffset, list.byteLength);
}

function describePayload(raw: Buffer, payload: Buffer, codec: CodecName): EncodedPayload {
  return { codec: CODEC_TO_PROTO[codec], payload, payloadSha256: sha256(payload), uncompressedBytes: raw.length };
}

const brotliOptions = (raw: Buffer): BrotliOptions => ({
  params: {
    [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
    [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
    [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.length,
  },
});

const gzipAsync = promisify(gzip);
const deflateRawAsync = promisify(deflateRaw);
const brotliCompressAsync = promisify(brotliCompress);

const CODECS: Record<CodecName, { compressSync(raw: Buffer): Buffer; compress(raw: Buffer): Promise<Buffer> }> = {
  none: { compressSync: (raw) => raw, compress: async (raw) => raw },
  gzip: { compressSync: (raw) => gzipSync(raw), compress: (raw) => gzipAsync(raw) },
  deflate: { compressSync: (raw) => deflateRawSync(raw), compress: (raw) => deflateRawAsync(raw) },
  brotli: { compressSync: (raw) => brotliCompressSync(raw, brotliOptions(raw)), compress: (raw) => brotliCompressAsync(raw, brotliOptions(raw)) },
};

export interface BatchPayloadFields {
  codec: number;
  payload: Uint8Array;
  payloadSha256: Uint8Array;
  firstSeq: number;
  lastSeq: number;
  eventCount: number;
}

/**
 * Verifies and decodes a batch's payload. Throws BatchDecodeError when the
 * checksum does not match, the codec is unknown, the payload does not inflate or
 * decode, or the events do not fit the batch's declared range and count.
 */
export function decodeEvents(batch: BatchPayloadFields): JournalEvent[] {
  const payload = Buffer.from(batch.payload.buffer, batch.payload.byteOffset, batch.payload.byteLength);
  if (!sha256(payload).equals(Buffer.from(batch.payloadSha256))) {
    throw new BatchDecodeError('payload SHA-256 does not match payload_sha256', ErrorCode.BAD_BATCH);
  }
  let raw: Buffer;
  try {
    raw = decompress(payload, batch.codec);
  } catch (cause) {
    if (cause instanceof BatchDecodeError) throw cause;
    throw new BatchDecodeError(`payload does not decompress: ${(cause as Error).message}`, ErrorCode.BAD_BATCH, { cause });
  }
  let events: JournalEvent[];
  try {
    events = pb.EventList.decode(raw).events.map((e) => eventFromProto(e as InstanceType<typeof pb.Event>));
  } catch (cause) {
    throw new BatchDecodeError(`payload is not an EventList: ${(cause as Error).message}`, ErrorCode.BAD_BATCH, { cause });
  }
  if (events.length !== batch.eventCount) {
    throw new BatchDecodeError(`event_count says ${batch.eventCount} but the payload holds ${events.length}`, ErrorCode.BAD_BATCH);
  }
  let previous = batch.firstSeq - 1;
  for (const event of events) {
    if (event.seq <= previous || event.seq > batch.lastSeq) {
      throw new BatchDecodeError(
        `event seq ${event.seq} is outside the batch range [${batch.firstSeq}, ${batch.lastSeq}] or out of order`,
        ErrorCode.BAD_BATCH,
      );
    }
    previous = event.seq;
  }
  return events;
}

function decompress(payload: Buffer, codec: number): Buffer {
  const limits = { maxOutputLength: MAX_UNCOMPRESSED_BYTES };
  switch (codec) {
    case pb.Codec.CODEC_NONE:
      return payload;
    case pb.Codec.CODEC_GZIP:
      return gunzipSync(payload, limits);
    case pb.Codec.CODEC_DEFLATE:
      return inflateRawSync(payload, limits);
    case pb.Codec.CODEC_BROTLI:
      return brotliDecompressSync(payload, limits);
    default:
      throw new BatchDecodeError(`unknown codec ${codec}`, ErrorCode.BAD_BATCH);
  }
}
