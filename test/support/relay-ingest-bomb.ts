// A decompression bomb for the relay's ingest tests: a brotli payload of a few
// hundred bytes whose EventList holds one valid event with a body of
// `bodyBytes` letters. Built by streaming, so making it never holds the
// inflated bytes in memory.
import { constants as zlibConstants, createBrotliCompress } from 'node:zlib';
import { eventToProto, pb } from '../../protocol/index.js';
import { makeEvent } from '../integration/relay-harness.js';

const CHUNK = Buffer.alloc(1024 * 1024, 0x41);

export async function brotliBomb(bodyBytes: number): Promise<Buffer> {
  // The event without its body, then field 8 (body, length-delimited) written by hand around the letters.
  const head = Buffer.from(pb.Event.encode(eventToProto(makeEvent(1, { body: Buffer.alloc(0) }))).finish());
  const bodyTag = Buffer.concat([Buffer.from([(8 << 3) | 2]), varint(bodyBytes)]);
  const eventBytes = head.length + bodyTag.length + bodyBytes;
  // EventList field 1 (events), length-delimited.
  const listTag = Buffer.concat([Buffer.from([(1 << 3) | 2]), varint(eventBytes)]);
  const compressor = createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } });
  const out: Buffer[] = [];
  compressor.on('data', (chunk: Buffer) => out.push(chunk));
  const finished = new Promise<void>((resolve, reject) => {
    compressor.on('end', resolve);
    compressor.on('error', reject);
  });
  const write = (bytes: Buffer) => (compressor.write(bytes) ? Promise.resolve() : new Promise<void>((resolve) => compressor.once('drain', resolve)));
  await write(listTag);
  await write(head);
  await write(bodyTag);
  for (let left = bodyBytes; left > 0; left -= CHUNK.length) await write(left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left));
  compressor.end();
  await finished;
  return Buffer.concat(out);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return Buffer.from(bytes);
}
