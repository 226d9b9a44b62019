// What makes an offered manifest or a received part unacceptable, the same for
// every BlobStore backend (blob-store.ts): the answers' texts are what the agent logs.
import { BLOB_CHUNK_BYTES, type BlobManifest } from '../../protocol/index.js';
import { MAX_BLOB_PART_BYTES } from './blob-store.js';

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** What is wrong with an offered manifest, or undefined. */
export function manifestProblem(manifest: BlobManifest): string | undefined {
  if (!HEX_SHA256.test(manifest.sha256)) return 'instance_sha256 must be a SHA-256 (32 bytes)';
  if (!Number.isSafeInteger(manifest.size) || manifest.size <= 0) return `size must be a positive number of bytes, got ${manifest.size}`;
  if (manifest.chunks.length === 0) return 'chunks must list at least one chunk';
  let total = 0;
  for (const [index, chunk] of manifest.chunks.entries()) {
    if (!HEX_SHA256.test(chunk.sha256)) return `chunks[${index}].sha256 must be a SHA-256 (32 bytes)`;
    const last = index === manifest.chunks.length - 1;
    if (!last && chunk.size !== BLOB_CHUNK_BYTES) return `chunks[${index}].size must be ${BLOB_CHUNK_BYTES} (BLOB_CHUNK_BYTES: every chunk but the last), got ${chunk.size}`;
    if (last && (chunk.size < 1 || chunk.size > BLOB_CHUNK_BYTES)) return `chunks[${index}].size (the last chunk) must be 1 to ${BLOB_CHUNK_BYTES} bytes, got ${chunk.size}`;
    total += chunk.size;
  }
  if (total !== manifest.size) return `the chunk sizes add up to ${total} bytes, but size says ${manifest.size}`;
  return undefined;
}

export function partProblem(sha256: string, size: number, offset: number, data: Uint8Array): string | undefined {
  if (!HEX_SHA256.test(sha256)) return 'chunk_sha256 must be a SHA-256 (32 bytes)';
  if (!Number.isInteger(size) || size < 1 || size > BLOB_CHUNK_BYTES) return `chunk_size must be 1 to ${BLOB_CHUNK_BYTES} bytes, got ${size}`;
  if (data.length === 0) return 'a part must carry data';
  if (data.length > MAX_BLOB_PART_BYTES) return `a part of ${data.length} bytes is larger than the relay takes (${MAX_BLOB_PART_BYTES} bytes); send smaller parts`;
  if (offset + data.length > size) return `part at offset ${offset} with ${data.length} bytes runs past the chunk's ${size} bytes`;
  return undefined;
}
