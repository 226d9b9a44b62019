// What the relay does with an agent's Revoke and Reinstate (the hospital's own
// agent: the stream they arrive on is authenticated by its Hello), and the
// answers it sends back. The store does the work (FeedStore.revokeFeed and reinstateFeed).
import type { Logger } from 'pino';
import { pb, type AgentMessage, type RelayMessage } from '../../protocol/index.js';
import { NAME_PATTERN } from '../../protocol/index.js';
import { ProtocolViolationError } from '../errors.js';
import type { BlobStore, FeedStore, LedgerHeadInput } from '../store/index.js';

type Revoke = NonNullable<AgentMessage['revoke']>;
type Reinstate = NonNullable<AgentMessage['reinstate']>;

/** Longest revoke reason kept, in characters; the rest is cut. */
export const MAX_REVOKE_REASON_CHARS = 1_000;

/**
 * Deletes the feed's data, stops serving it and answers with what was deleted:
 * its events, then (with a BlobStore) its blob references and every chunk of the
 * hospital nothing else needs; bytes_deleted counts both.
 */
export async function handleRevoke(store: FeedStore, hospital: string, revoke: Revoke, log: Logger, blobs?: BlobStore): Promise<RelayMessage> {
  const feed = checkedFeed(revoke.feed, 'Revoke');
  const reason = (revoke.reason ?? '').slice(0, MAX_REVOKE_REASON_CHARS);
  // The feed is revoked first, so no batch of it can record references while its blobs are deleted.
  const outcome = await store.revokeFeed({ hospital, feed, reason, ledgerHead: ledgerHeadOf(revoke) });
  const blobDeletion = blobs ? await blobs.deleteFeed(hospital, feed) : { references: 0, chunksDeleted: 0, bytesDeleted: 0 };
  const bytesDeleted = outcome.bytesDeleted + blobDeletion.bytesDeleted;
  const fields = { feed, reason, eventsDeleted: outcome.eventsDeleted, bytesDeleted, blobChunksDeleted: blobDeletion.chunksDeleted, blobBytesDeleted: blobDeletion.bytesDeleted, highWaterSeq: outcome.revocation.highWaterSeq, alreadyRevoked: outcome.alreadyRevoked, ...outcome.erasure };
  if (outcome.erasure.walTruncated) {
    log.info(fields, outcome.alreadyRevoked ? 'revoke repeated by the hospital; whatever was left is deleted and overwritten' : 'feed revoked by the hospital; its events are deleted and overwritten');
  } else {
    // Deleted and zeroed in the database, but older WAL frames still hold them until the next checkpoint.
    log.warn(fields, 'feed revoked and its events deleted and zeroed, but readers kept the WAL busy: its older frames may still hold them until later writes reuse it; revoking the feed again retries');
  }
  return pb.RelayMessage.create({
    revoked: {
      feed,
      eventsDeleted: outcome.eventsDeleted,
      bytesDeleted,
      highWaterSeq: outcome.revocation.highWaterSeq,
      revokedAtMs: outcome.revocation.revokedAtMs,
      alreadyRevoked: outcome.alreadyRevoked,
    },
  });
}

/** Lifts a revocation and answers with the mark the feed continues from. */
export async function handleReinstate(store: FeedStore, hospital: string, reinstate: Reinstate, log: Logger): Promise<RelayMessage> {
  const feed = checkedFeed(reinstate.feed, 'Reinstate');
  const outcome = await store.reinstateFeed({ hospital, feed, ledgerHead: ledgerHeadOf(reinstate) });
  log.info({ feed, reason: reinstate.reason ?? '', ...outcome }, outcome.wasRevoked ? 'feed re-enabled by the hospital' : 're-enable of a feed that was not revoked');
  return pb.RelayMessage.create({ reinstated: { feed, highWaterSeq: outcome.highWaterSeq, wasRevoked: outcome.wasRevoked } });
}

function checkedFeed(feed: string | null | undefined, message: string): string {
  if (!feed || !NAME_PATTERN.test(feed)) {
    throw new ProtocolViolationError(`${message} names feed ${JSON.stringify(feed ?? '')}, which is not a valid feed name (1-128 letters, digits, ".", "_" or "-")`);
  }
  return feed;
}

/** The egress-ledger head a Batch, Revoke or Reinstate carries; null from an agent without a ledger. */
export function ledgerHeadOf(message: { ledgerHead?: Uint8Array | null; ledgerIndex?: number | null }): LedgerHeadInput | null {
  const hash = message.ledgerHead ?? new Uint8Array();
  return hash.length > 0 && Number(message.ledgerIndex ?? 0) > 0 ? { index: Number(message.ledgerIndex), hash } : null;
}
