// Ships the instances a batch of an imaging feed names before the batch itself:
// offer the instance -> send the chunks the relay lacks, in parts, each through
// the shared uplink -> offer again and expect it complete. Only then does the
// pump hand the batch over (the relay refuses a batch naming an incomplete
// instance, and vendors never see one).
//
// Failure modes handled:
//  1. The session ends while parts are in flight: every pending request rejects
//     (the transport's contract), their permits are handed back, ship() returns
//     'stopped'; the next stream re-offers and the relay's partialBytes resume
//     each chunk where it stopped: nothing is sent twice but the part cut short.
//  2. The pump's window moves (a nack) or a hold lands while shipping: ship()
//     stops after the instance under way and returns 'stale'; what was stored
//     stays stored at the relay, so reading again costs no chunk bytes.
//  3. A chunk in the archive no longer matches its hash (ArchiveCorruptError):
//     nothing wrong is sent; the feed is held with WL_A026 naming the instance
//     and the chunk, other feeds go on.
//  4. The relay refuses a part (offset moved, a chunk whose hash did not match):
//     the instance is offered again, which says where to resume; after
//     MAX_INSTANCE_ATTEMPTS such rounds the feed is held with WL_A028.
//  5. The relay refuses an offer (a manifest it rejects, a feed not granted),
//     or says incomplete after every chunk was stored: held with WL_A028.
//  6. The relay does not list BLOB_FEATURE: the feed is held with WL_A028
//     ("upgrade the relay"); feeds without instances are unaffected.
//  7. A part never answered: pendingSinceMs feeds the replicator's ack timeout,
//     which closes the stream as for a batch.
//  8. A new stream's ship() starts while the ended stream's is still settling
//     (its parts rejecting): both run on this shipper, so the status fields
//     (current, currentDoneBytes) belong to the newest ship() and the older
//     one's end leaves them alone. It used to clear `current` under the new
//     one, whose next offer then threw a TypeError that closed the new stream
//     too (seen under CPU load: the stream ended with "Cannot set properties of
//     null (setting 'chunksDone')" and the pump never went on).
//  9. Two feeds of the relay ship the same instance at once (both carry the
//     stream): each instance is claimed (instance-claims.ts) for the whole
//     offer -> parts -> offer round; the other feed's shipper waits, then its
//     offer finds the instance complete and sends no chunk byte.
import type { ImagingInstanceBody } from '../../protocol/index.js';
import { RateMeter, type Permit, type Uplink } from '../bandwidth/index.js';
import { AgentErrorCode } from '../errors.js';
import { ArchiveCorruptError, type InstanceArchive } from '../imaging/index.js';
import { BlobRefusedError, RelayLinkError } from './errors.js';
import type { InstanceClaims } from './instance-claims.js';
import type { BlobChannel, BlobOfferAnswer } from './relay-transport.js';

/** Largest part: small enough for the uplink's in-flight cap to interleave other classes' batches between parts. */
export const BLOB_PART_BYTES = 64 * 1024;
/** Rounds of offer -> parts for one instance before the feed is held (failure mode 4). */
export const MAX_INSTANCE_ATTEMPTS = 3;

export type ShipOutcome =
  /** Every instance is complete at the relay: the batch may go. */
  | { kind: 'complete' }
  /** The stream ended (failure mode 1). */
  | { kind: 'stopped' }
  /** The batch is no longer the one to send (failure mode 2). */
  | { kind: 'stale' }
  /** The feed must be held (failure modes 3–6); `problem` says why. */
  | { kind: 'held'; problem: BlobProblem };

export interface BlobProblem {
  code: string;
  message: string;
}

export interface BlobShipperOptions {
  feed: string;
  className: string;
  uplink: Uplink;
  archive: InstanceArchive;
  clock: () => number;
  /** Shared by the shippers of one relay's feeds (failure mode 9); absent = this shipper alone. */
  claims?: InstanceClaims;
  log?: { warn(fields: object, message: string): void };
}

export interface ShipContext {
  blobs: BlobChannel | undefined;
  signal: AbortSignal;
  /** False once the batch should no longer go (window moved, a hold): checked between instances. */
  stillWanted: () => boolean;
}

/** The problem of a relay that does not take blob transfer (failure mode 6). */
export const RELAY_WITHOUT_BLOBS: BlobProblem = {
  code: AgentErrorCode.BLOB_TRANSFER,
  message: 'the relay does not take blob transfer (its Welcome does not list blob-v1); upgrade the relay. This feed\'s instances wait in the archive',
};

/** One feed's instance transfer and what its status shows of it. */
export class BlobShipper {
  chunksSent = 0;
  chunkBytesSent = 0;
  dedupedBytes = 0;
  readonly chunkRate: RateMeter;
  current: { sopInstanceUid: string; studyUid: string; chunksDone: number; chunks: number } | null = null;
  /** Bytes of the instance under way already at the relay (bytesWaiting leaves them out). */
  currentDoneBytes = 0;
  /** Send time of each part awaiting its ack, by a per-part id (failure mode 7). */
  private readonly pendingParts = new Map<number, number>();
  private nextPartId = 0;
  /** Counts ship() calls: only the newest one's end clears the status fields (failure mode 8). */
  private shipRun = 0;

  constructor(private readonly options: BlobShipperOptions) {
    this.chunkRate = new RateMeter(options.clock);
  }

  /** Send time of the oldest part awaiting its ack; undefined when none. */
  get pendingSinceMs(): number | undefined {
    let oldest: number | undefined;
    for (const at of this.pendingParts.values()) if (oldest === undefined || at < oldest) oldest = at;
    return oldest;
  }

  /** Makes each instance complete at the relay, in order. */
  async ship(instances: readonly ImagingInstanceBody[], context: ShipContext, onComplete: (instance: ImagingInstanceBody) => void): Promise<ShipOutcome> {
    if (instances.length === 0) return { kind: 'complete' };
    if (!context.blobs) return { kind: 'held', problem: RELAY_WITHOUT_BLOBS };
    const run = ++this.shipRun;
    try {
      for (const instance of instances) {
        if (context.signal.aborted) return { kind: 'stopped' };
        if (!context.stillWanted()) return { kind: 'stale' };
        const release = this.options.claims ? await this.options.claims.claim(instance.sha256, context.signal) : () => {};
        if (!release) return { kind: 'stopped' };
        let outcome: ShipOutcome;
        try {
          outcome = await this.shipInstance(instance, context.blobs, context.signal);
        } finally {
          release();
        }
        if (outcome.kind !== 'complete') return outcome;
        onComplete(instance);
      }
      return { kind: 'complete' };
    } catch (error) {
      // The session ended under a pending request (it rejects with RelayLinkError): the stream is gone.
      if (context.signal.aborted || error instanceof RelayLinkError) return { kind: 'stopped' };
      throw error;
    } finally {
      if (this.shipRun === run) {
        this.current = null;
        this.currentDoneBytes = 0;
      }
    }
  }

  private async shipInstance(instance: ImagingInstanceBody, blobs: BlobChannel, signal: AbortSignal): Promise<ShipOutcome> {
    const { feed } = this.options;
    const manifest = { sha256: instance.sha256, size: instance.size, chunks: instance.chunks };
    const current = { sopInstanceUid: instance.sopInstanceUid, studyUid: instance.studyUid, chunksDone: 0, chunks: instance.chunks.length };
    this.current = current;
    for (let attempt = 1; ; attempt++) {
      let answer: BlobOfferAnswer;
      try {
        answer = await blobs.offer({ feed, manifest });
      } catch (error) {
        if (error instanceof BlobRefusedError) return { kind: 'held', problem: { code: AgentErrorCode.BLOB_TRANSFER, message: `${error.message} (instance ${instance.sopInstanceUid} of study ${instance.studyUid})` } };
        throw error;
      }
      const missing = new Map(answer.missing.map((m) => [m.index, m.partialBytes]));
      // The relay counts what it already held at this feed's first offer of the instance (a study sent
      // again, a second feed) and answers 0 on every re-offer, so a restarted agent never counts as
      // saved what it sent itself before the restart.
      this.dedupedBytes += answer.dedupedBytes;
      current.chunksDone = instance.chunks.length - missing.size;
      this.currentDoneBytes = instance.chunks.reduce((sum, chunk, index) => sum + (missing.has(index) ? (missing.get(index) ?? 0) : chunk.size), 0);
      if (answer.complete) return { kind: 'complete' };
      if (missing.size === 0 || attempt > MAX_INSTANCE_ATTEMPTS) {
        return {
          kind: 'held',
          problem: {
            code: AgentErrorCode.BLOB_TRANSFER,
            message:
              missing.size === 0
                ? `the relay holds every chunk of instance ${instance.sopInstanceUid} (study ${instance.studyUid}) but does not take it as complete: its SHA-256 ${instance.sha256} did not match there`
                : `the relay kept refusing parts of instance ${instance.sopInstanceUid} (study ${instance.studyUid}) after ${MAX_INSTANCE_ATTEMPTS} attempts`,
          },
        };
      }
      const sent = await this.sendChunks(instance, blobs, [...missing.entries()], signal);
      if (sent.kind === 'held') return sent;
      if (sent.kind === 'stopped') return { kind: 'stopped' };
      // 'retry' (a part refused) or 'sent': offer again; the answer says complete or where to resume.
    }
  }

  /** Sends the missing chunks' parts, pipelined up to the uplink's in-flight cap. */
  private async sendChunks(
    instance: ImagingInstanceBody,
    blobs: BlobChannel,
    missing: [index: number, partialBytes: number][],
    signal: AbortSignal,
  ): Promise<{ kind: 'sent' } | { kind: 'retry' } | { kind: 'stopped' } | { kind: 'held'; problem: BlobProblem }> {
    const { feed, className, uplink, archive, clock } = this.options;
    const inFlight = new Set<Promise<void>>();
    let refused: BlobRefusedError | undefined;
    let failure: unknown;
    try {
      for (const [index, partialBytes] of missing) {
        const chunk = instance.chunks[index]!;
        let bytes: Buffer;
        try {
          bytes = await archive.readChunk(chunk.sha256);
        } catch (error) {
          if (error instanceof ArchiveCorruptError) {
            return {
              kind: 'held',
              problem: { code: AgentErrorCode.ARCHIVE_CORRUPT, message: `instance ${instance.sopInstanceUid} of study ${instance.studyUid} cannot ship: ${error.message}` },
            };
          }
          throw error;
        }
        if (bytes.length !== chunk.size) throw new Error(`archived chunk ${chunk.sha256} has ${bytes.length} bytes, the manifest says ${chunk.size}`);
        for (let offset = Math.min(partialBytes, chunk.size); offset < chunk.size; offset += BLOB_PART_BYTES) {
          if (refused || failure !== undefined) break;
          const data = bytes.subarray(offset, Math.min(chunk.size, offset + BLOB_PART_BYTES));
          const permit = await uplink.acquire({ feed, class: className, bytes: data.length }, signal);
          if (!permit) return { kind: 'stopped' };
          if (refused || failure !== undefined) {
            uplink.release(permit);
            break;
          }
          const id = this.nextPartId++;
          this.pendingParts.set(id, clock());
          this.chunkBytesSent += data.length;
          const part = this.sendPart(blobs, permit, id, { feed, chunkSha256: chunk.sha256, chunkSize: chunk.size, offset, data })
            .then((stored) => {
              this.currentDoneBytes += data.length;
              if (stored) this.chunkStored();
            })
            .catch((error: unknown) => {
              if (error instanceof BlobRefusedError) refused ??= error;
              else failure ??= error;
            })
            .finally(() => inFlight.delete(part));
          inFlight.add(part);
        }
        if (refused || failure !== undefined) break;
      }
    } finally {
      // Every part answered (or the session ended, which rejects them all) before deciding.
      await Promise.all(inFlight);
    }
    if (signal.aborted) return { kind: 'stopped' };
    if (failure !== undefined) throw failure;
    if (refused) {
      this.options.log?.warn({ feed, sopInstanceUid: instance.sopInstanceUid, received: refused.received }, `${refused.message}; offering the instance again`);
      return { kind: 'retry' };
    }
    return { kind: 'sent' };
  }

  /** One part: its permit goes back when the relay answers it (or the session ends). */
  private async sendPart(blobs: BlobChannel, permit: Permit, id: number, request: Parameters<BlobChannel['sendPart']>[0]): Promise<boolean> {
    try {
      const answer = await blobs.sendPart(request);
      return answer.stored;
    } finally {
      this.pendingParts.delete(id);
      this.options.uplink.release(permit);
    }
  }

  private chunkStored(): void {
    this.chunksSent++;
    this.chunkRate.record(1);
    if (this.current) this.current.chunksDone++;
  }
}
