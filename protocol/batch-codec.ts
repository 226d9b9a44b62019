// Encodes a feed's events into a Batch payload and back. Both sides use this
// file, so the codec and the checksum can never disagree.
//
// Failure modes handled (decoding, as the relay does it: decodeEventsAsync):
//  1. A decompression bomb (a few hundred bytes inflating to hundreds of MB):
//     inflation runs on libuv's thread pool in INFLATE_CHUNK_BYTES steps and is
//     stopped once the output passes batchInflationLimit(), so it costs neither
//     an event-loop stall nor memory past that limit.
//  2. A sender declaring a huge uncompressed_bytes: refused before anything is
//     inflated. Declaring a small one does not help: inflation stops there.
//  3. A checksum, codec, protobuf, count or range that does not match: BAD_BATCH.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import {
  brotliCompress,
  brotliCompressSync,
  brotliDecompress,
  brotliDecompressSync,
  constants as zlibConstants,
  deflateRaw,
  deflateRawSync,
  gunzip,
  gunzipSync,
  gzip,
  gzipSync,
  inflateRaw,
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

/**
 * The level each codec compresses at unless told otherwise. Brotli at quality 5
 * compresses HL7 text far better than deflate while staying fast enough for a
 * 2-core appliance; quality 11 costs ~20x the CPU for a few percent. The level is
 * not on the wire: the relay decodes any level, so it may change batch by batch.
 */
export const DEFAULT_COMPRESSION_LEVEL: Readonly<Record<CodecName, number>> = { none: 0, gzip: 6, deflate: 6, brotli: 5 };

/** The levels each codec accepts (zlib's and brotli's own ranges; none has only 0). */
export const COMPRESSION_LEVEL_RANGE: Readonly<Record<CodecName, { min: number; max: number }>> = {
  none: { min: 0, max: 0 },
  gzip: { min: 1, max: 9 },
  deflate: { min: 1, max: 9 },
  brotli: { min: 0, max: 11 },
};
/** Refuse to inflate a payload beyond this, so a hostile batch cannot exhaust memory. */
export const MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024;
/**
 * A batch's EventList may be this many times the relay's maxBatchBytes (see
 * maxUncompressedBatchBytes): 32 MiB at the default 4 MiB ceiling. An agent
 * reads at most 0.9 x the ceiling of bodies per batch, but the event that
 * reaches the budget is read whole: up to 16 MiB, the largest MLLP frame and
 * ingest body the agent accepts, compressed well under the ceiling. 8x covers
 * both with room for policy shaping and the protobuf envelope.
 */
export const BATCH_UNCOMPRESSED_FACTOR = 8;
/**
 * The most an EventList may inflate per compressed payload byte. Measured with
 * the agent's codecs on 1 MiB batches: HL7 and JSON corpus 6-8x (gzip) and
 * 14-15x (brotli), a heartbeat stream of near-identical JSON rows 20x, a
 * degenerate batch of 1 000 identical 1 KB bodies 430x; deflate itself cannot
 * pass 1 032x. A 376-byte brotli bomb inflating to 200 MB is 550 000x.
 */
export const MAX_BATCH_INFLATION_RATIO = 1024;
/** A payload may always inflate to this many bytes whatever its ratio (a batch of one tiny, repetitive event). */
export const MIN_BATCH_INFLATION_BYTES = 256 * 1024;

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
export function encodeEvents(events: readonly JournalEvent[], codec: CodecName, level = DEFAULT_COMPRESSION_LEVEL[codec]): EncodedPayload {
  const raw = encodeEventList(events);
  return describePayload(raw, CODECS[codec].compressSync(raw, level), codec);
}

/**
 * Encodes on the calling thread and compresses on libuv's thread pool, so a
 * megabyte of brotli never stalls the agent's event loop (and with it, HL7 ACKs).
 */
export async function encodeEventsAsync(events: readonly JournalEvent[], codec: CodecName, level = DEFAULT_COMPRESSION_LEVEL[codec]): Promise<EncodedPayload> {
  const raw = encodeEventList(events);
  return describePayload(raw, await CODECS[codec].compress(raw, level), codec);
}

function encodeEventList(events: readonly JournalEvent[]): Buffer {
  const list = pb.EventList.encode({ events: events.map(eventToProto) }).finish();
  return Buffer.from(list.buffer, list.byteOffset, list.byteLength);
}

function describePayload(raw: Buffer, payload: Buffer, codec: CodecName): EncodedPayload {
  return { codec: CODEC_TO_PROTO[codec], payload, payloadSha256: sha256(payload), uncompressedBytes: raw.length };
}

const brotliOptions = (raw: Buffer, quality: number): BrotliOptions => ({
  params: {
    [zlibConstants.BROTLI_PARAM_QUALITY]: quality,
    [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
    [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.length,
  },
});

const gzipAsync = promisify(gzip);
const deflateRawAsync = promisify(deflateRaw);
const brotliCompressAsync = promisify(brotliCompress);
const gunzipAsync = promisify(gunzip);
const inflateRawAsync = promisify(inflateRaw);
const brotliDecompressAsync = promisify(brotliDecompress);

/** Output handed back to the event loop per inflation step, in bytes; each step is one job on libuv's thread pool. */
export const INFLATE_CHUNK_BYTES = 64 * 1024;
const inflateOptions = (maxOutputLength: number) => ({ maxOutputLength, chunkSize: INFLATE_CHUNK_BYTES });

interface Codec {
  compressSync(raw: Buffer, level: number): Buffer;
  compress(raw: Buffer, level: number): Promise<Buffer>;
  /** Throws ERR_BUFFER_TOO_LARGE once the output passes maxOutputLength. */
  decompressSync(payload: Buffer, maxOutputLength: number): Buffer;
  decompress(payload: Buffer, maxOutputLength: number): Promise<Buffer>;
}

const CODECS: Record<CodecName, Codec> = {
  none: {
    compressSync: (raw) => raw,
    compress: async (raw) => raw,
    decompressSync: (payload) => payload,
    decompress: async (payload) => payload,
  },
  gzip: {
    compressSync: (raw, level) => gzipSync(raw, { level }),
    compress: (raw, level) => gzipAsync(raw, { level }),
    decompressSync: (payload, max) => gunzipSync(payload, inflateOptions(max)),
    decompress: (payload, max) => gunzipAsync(payload, inflateOptions(max)),
  },
  deflate: {
    compressSync: (raw, level) => deflateRawSync(raw, { level }),
    compress: (raw, level) => deflateRawAsync(raw, { level }),
    decompressSync: (payload, max) => inflateRawSync(payload, inflateOptions(max)),
    decompress: (payload, max) => inflateRawAsync(payload, inflateOptions(max)),
  },
  brotli: {
    compressSync: (raw, level) => brotliCompressSync(raw, brotliOptions(raw, level)),
    compress: (raw, level) => brotliCompressAsync(raw, brotliOptions(raw, level)),
    decompressSync: (payload, max) => brotliDecompressSync(payload, inflateOptions(max)),
    decompress: (payload, max) => brotliDecompressAsync(payload, inflateOptions(max)),
  },
};

export interface BatchPayloadFields {
  codec: number;
  payload: Uint8Array;
  payloadSha256: Uint8Array;
  firstSeq: number;
  lastSeq: number;
  eventCount: number;
  /** The EventList's size before compression as the sender declared it (Batch.uncompressed_bytes); 0 = not declared. */
  uncompressedBytes?: number;
}

/**
 * Verifies and decodes a batch's payload on the calling thread (tests, tools),
 * inflating to at most MAX_UNCOMPRESSED_BYTES. Throws BatchDecodeError when the
 * checksum does not match, the codec is unknown, the payload does not inflate or
 * decode, or the events do not fit the batch's declared range and count.
 */
export function decodeEvents(batch: BatchPayloadFields): JournalEvent[] {
  const payload = verifiedPayload(batch);
  let raw: Buffer;
  try {
    raw = CODECS[codecName(batch.codec)].decompressSync(payload, MAX_UNCOMPRESSED_BYTES);
  } catch (cause) {
    throw inflateFailure(cause, MAX_UNCOMPRESSED_BYTES);
  }
  return parseEventList(raw, batch);
}

/**
 * Verifies and decodes a batch's payload as the relay must: the payload is
 * inflated on libuv's thread pool, INFLATE_CHUNK_BYTES at a time, and the
 * inflation stops as soon as the output passes batchInflationLimit(), so a
 * decompression bomb costs at most that many bytes and never blocks the event
 * loop. A declared uncompressed size is checked before anything is inflated and
 * must match exactly. Throws BatchDecodeError (code BATCH_INFLATION for a payload
 * that inflates too far, BAD_BATCH otherwise).
 */
export async function decodeEventsAsync(batch: BatchPayloadFields, maxBatchBytes: number): Promise<JournalEvent[]> {
  const payload = verifiedPayload(batch);
  const limit = batchInflationLimit(payload.length, maxBatchBytes);
  const declared = batch.uncompressedBytes ?? 0;
  if (declared > limit) {
    throw new BatchDecodeError(`uncompressed_bytes says ${declared}; a payload of ${payload.length} bytes may inflate to at most ${limit}`, ErrorCode.BATCH_INFLATION);
  }
  const maxOutput = declared > 0 ? declared : limit;
  let raw: Buffer;
  try {
    raw = await CODECS[codecName(batch.codec)].decompress(payload, maxOutput);
  } catch (cause) {
    throw inflateFailure(cause, maxOutput);
  }
  if (declared > 0 && raw.length !== declared) {
    throw new BatchDecodeError(`uncompressed_bytes says ${declared} but the payload inflates to ${raw.length}`, ErrorCode.BAD_BATCH);
  }
  return parseEventList(raw, batch);
}

/**
 * The most a batch's payload of `payloadBytes` may inflate to, in bytes, at a
 * relay accepting payloads of up to `maxBatchBytes`: the payload's bytes times
 * MAX_BATCH_INFLATION_RATIO (at least MIN_BATCH_INFLATION_BYTES), never more than
 * maxUncompressedBatchBytes(maxBatchBytes).
 */
export function batchInflationLimit(payloadBytes: number, maxBatchBytes: number): number {
  const byRatio = Math.max(MIN_BATCH_INFLATION_BYTES, payloadBytes * MAX_BATCH_INFLATION_RATIO);
  return Math.min(maxUncompressedBatchBytes(maxBatchBytes), byRatio);
}

/**
 * The largest EventList a batch may carry at a relay accepting payloads of up to
 * `maxBatchBytes`, in bytes (never more than MAX_UNCOMPRESSED_BYTES). An agent's
 * read budget is capped at the ceiling the relay announces in Welcome
 * (batch-budget.ts, feed-pump.ts); BATCH_UNCOMPRESSED_FACTOR says what it adds.
 */
export function maxUncompressedBatchBytes(maxBatchBytes: number): number {
  return Math.min(MAX_UNCOMPRESSED_BYTES, maxBatchBytes * BATCH_UNCOMPRESSED_FACTOR);
}

function verifiedPayload(batch: BatchPayloadFields): Buffer {
  const payload = Buffer.from(batch.payload.buffer, batch.payload.byteOffset, batch.payload.byteLength);
  if (!sha256(payload).equals(Buffer.from(batch.payloadSha256))) {
    throw new BatchDecodeError('payload SHA-256 does not match payload_sha256', ErrorCode.BAD_BATCH);
  }
  return payload;
}

function codecName(codec: number): CodecName {
  const name = CODEC_NAMES.find((candidate) => CODEC_TO_PROTO[candidate] === codec);
  if (name === undefined) throw new BatchDecodeError(`unknown codec ${codec}`, ErrorCode.BAD_BATCH);
  return name;
}

function inflateFailure(cause: unknown, maxOutputBytes: number): BatchDecodeError {
  if ((cause as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
    return new BatchDecodeError(`payload inflates past ${maxOutputBytes} bytes; inflation was stopped there`, ErrorCode.BATCH_INFLATION, { cause });
  }
  return new BatchDecodeError(`payload does not decompress: ${(cause as Error).message}`, ErrorCode.BAD_BATCH, { cause });
}

function parseEventList(raw: Buffer, batch: BatchPayloadFields): JournalEvent[] {
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
