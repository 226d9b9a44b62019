// What the relay does with an agent's BlobOffer and BlobPart (imaging chunks,
// before the blob-ref events that name them), and the check a batch's blob-ref
// events must pass before the batch is stored. The BlobStore does the work.
//
// Failure modes handled:
//  1. An offer or part for a feed not in the stream's Hello, or revoked: answered
//     with an error text (BlobHave.error / BlobPartAck.error), nothing recorded;
//     the stream stays open for the other feeds.
//  2. A malformed manifest (a hash that is not 32 bytes, chunk sizes that do not
//     follow BLOB_CHUNK_BYTES or do not add up to the size): BlobHave.error says
//     which field; nothing recorded.
//  3. A part larger than MAX_BLOB_PART_BYTES: refused with an error saying the
//     limit; the relay never holds more than one part per stream in memory, since
//     the session handles one message at a time and writes each part as it comes.
//  4. A batch whose blob-ref event does not parse as an ImagingInstanceBody: the
//     stream ends with INVALID_ARGUMENT naming the seq and the field, nothing
//     stored (as for any malformed batch).
//  5. A batch whose blob-ref event names an instance the hospital does not hold
//     complete: Nack NACK_REASON_BLOB_INCOMPLETE with expected_seq = first_seq,
//     nothing stored; the agent re-offers and resends. So a vendor never sees an
//     event whose instance it cannot read.
import { BLOB_REF_CONTENT_TYPE, ImagingInstanceBodySchema, pb, type AgentMessage, type JournalEvent, type RelayMessage } from '../../protocol/index.js';
import { BadBatchError } from '../errors.js';
import type { RelayMetrics } from '../status/index.js';
import type { BlobReference, BlobStore, FeedStore } from '../store/index.js';

type BlobOffer = NonNullable<AgentMessage['blobOffer']>;
type BlobPart = NonNullable<AgentMessage['blobPart']>;

/** Where a blob message is handled: the stream's hospital and the feeds its Hello declared. */
export interface BlobContext {
  hospital: string;
  feeds: ReadonlySet<string>;
  blobs: BlobStore;
  store: FeedStore;
  metrics: RelayMetrics;
}

/** Answers a BlobOffer with the chunks missing, or an error saying why it was refused. */
export async function handleBlobOffer(context: BlobContext, offer: BlobOffer): Promise<RelayMessage> {
  const requestId = offer.requestId ?? 0;
  const instanceSha256 = offer.instanceSha256 ?? new Uint8Array();
  const have = (fields: { missing?: number[]; partialBytes?: number[]; complete?: boolean; error?: string; dedupedBytes?: number }): RelayMessage =>
    pb.RelayMessage.create({ blobHave: { requestId, instanceSha256, ...fields } });
  const feed = offer.feed ?? '';
  const feedProblem = blobFeedProblem(context, feed);
  if (feedProblem) return have({ error: `BlobOffer refused: ${feedProblem}` });
  if (instanceSha256.length !== 32) return have({ error: `BlobOffer refused: instance_sha256 must be 32 bytes (a SHA-256), got ${instanceSha256.length}` });
  const chunks = offer.chunks ?? [];
  const badChunk = chunks.findIndex((chunk) => (chunk.sha256 ?? new Uint8Array()).length !== 32);
  if (badChunk >= 0) return have({ error: `BlobOffer refused: chunks[${badChunk}].sha256 must be 32 bytes (a SHA-256), got ${(chunks[badChunk]!.sha256 ?? new Uint8Array()).length}` });
  const answer = await context.blobs.offer(context.hospital, feed, {
    sha256: hex(instanceSha256),
    size: Number(offer.size ?? 0),
    chunks: chunks.map((chunk) => ({ sha256: hex(chunk.sha256!), size: chunk.size ?? 0 })),
  });
  if ('error' in answer) return have({ error: `BlobOffer refused: ${answer.error}` });
  context.metrics.blobDedupedBytes.inc({ hospital: context.hospital }, answer.dedupedBytes);
  return have({
    complete: answer.complete,
    dedupedBytes: answer.dedupedBytes,
    missing: answer.missing.map((m) => m.index),
    partialBytes: answer.missing.map((m) => m.partialBytes),
  });
}

/** Writes a BlobPart and answers what the relay holds of its chunk after it. */
export async function handleBlobPart(context: BlobContext, part: BlobPart): Promise<RelayMessage> {
  const requestId = part.requestId ?? 0;
  const chunkSha256 = part.chunkSha256 ?? new Uint8Array();
  const ack = (fields: { received: number; stored: boolean; error?: string }): RelayMessage =>
    pb.RelayMessage.create({ blobPartAck: { requestId, chunkSha256, ...fields } });
  const feedProblem = blobFeedProblem(context, part.feed ?? '');
  if (feedProblem) return ack({ received: 0, stored: false, error: `BlobPart refused: ${feedProblem}` });
  if (chunkSha256.length !== 32) return ack({ received: 0, stored: false, error: `BlobPart refused: chunk_sha256 must be 32 bytes (a SHA-256), got ${chunkSha256.length}` });
  const data = part.data ?? new Uint8Array();
  const answer = await context.blobs.writePart(context.hospital, hex(chunkSha256), part.chunkSize ?? 0, part.offset ?? 0, data);
  if (answer.error === undefined) context.metrics.blobPartBytes.inc({ hospital: context.hospital }, data.length);
  if (answer.stored && answer.error === undefined && answer.received === (part.offset ?? 0) + data.length) context.metrics.blobChunks.inc({ result: 'stored' });
  if (answer.corrupt) context.metrics.blobChunks.inc({ result: 'corrupt' });
  return ack({ received: answer.received, stored: answer.stored, ...(answer.error === undefined ? {} : { error: `BlobPart refused: ${answer.error}` }) });
}

/** What a batch's blob-ref events need: the references to record, or the first instance not complete. */
export type BlobRefCheck = { refs: BlobReference[] } | { incomplete: { seq: number; sha256: string; sopInstanceUid: string } };

/**
 * Checks the blob-ref events of a decoded batch with seq > afterSeq (those the
 * store would write): each body must be an ImagingInstanceBody (else BadBatchError)
 * and its instance complete for the hospital.
 */
export async function checkBlobRefs(blobs: BlobStore, hospital: string, feed: string, events: readonly JournalEvent[], afterSeq: number, range: string): Promise<BlobRefCheck> {
  const refs: BlobReference[] = [];
  for (const event of events) {
    if (event.contentType !== BLOB_REF_CONTENT_TYPE || event.seq <= afterSeq || event.op !== 'upsert') continue;
    const body = parseBody(event.body);
    if (!body.success) {
      throw new BadBatchError(`batch ${range} of feed "${feed}" rejected: the blob-ref event at seq ${event.seq} is not an imaging instance body: ${body.error}; nothing of the batch was stored`, feed);
    }
    const instance = body.data;
    if (!(await blobs.isComplete(hospital, instance.sha256))) return { incomplete: { seq: event.seq, sha256: instance.sha256, sopInstanceUid: instance.sopInstanceUid } };
    refs.push({
      seq: event.seq,
      sha256: instance.sha256,
      size: instance.size,
      studyUid: instance.studyUid,
      seriesUid: instance.seriesUid,
      sopInstanceUid: instance.sopInstanceUid,
      sopClassUid: instance.sopClassUid,
    });
  }
  return { refs };
}

function parseBody(body: Uint8Array): { success: true; data: ReturnType<typeof ImagingInstanceBodySchema.parse> } | { success: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (error) {
    return { success: false, error: `not JSON (${(error as Error).message})` };
  }
  const parsed = ImagingInstanceBodySchema.safeParse(json);
  if (parsed.success) return { success: true, data: parsed.data };
  const issue = parsed.error.issues[0]!;
  return { success: false, error: `${issue.path.join('.') || '(body)'}: ${issue.message}` };
}

/** Why a blob message may not be taken for `feed` on this stream, or undefined. */
function blobFeedProblem(context: BlobContext, feed: string): string | undefined {
  if (!context.feeds.has(feed)) return `feed ${JSON.stringify(feed)} is not among this stream's Hello feeds (${[...context.feeds].join(', ') || 'none'})`;
  if (context.store.position(context.hospital, feed).revoked) return `feed "${feed}" is revoked by the hospital; its blobs are refused until the agent re-enables it`;
  return undefined;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
