// Answers an agent's ProofRequest ("proof-v1"): the relay's RFC 9162 root over
// the (seq, SHA-256 of body) leaves it holds in the asked range, the leaves
// themselves when listed, and — when a closed window's roots agree — a tree
// head signed with the relay's key and kept for vendors.
//
// Failure modes handled:
//  1. A body altered in the store after it was acked: the leaves are hashed
//     from the stored bytes at every request (FeedStore.feedLeaves), never from
//     a hash remembered at ingest, so the alteration changes the root.
//  2. A range past the feed's mark, a feed not declared in Hello, a revoked
//     feed, a listing of more than MAX_LISTED_LEAVES: answered with `error`,
//     nothing else set; the stream stays open.
//  3. A close_window whose count or root differs from the relay's: answered
//     with the relay's root and nothing signed; the agent bisects.
//  4. A window the relay's retention cut into: every answer carries the
//     feed's retention floor (retention_floor_seq), so the agent retires a
//     window starting at or below it instead of taking the removed events for
//     missing ones (no resend, no incident).
import type { Logger } from 'pino';
import { feedLeafData, leafHash, merkleRoot, pb, treeHeadText, type AgentMessage, type RelayMessage } from '../../protocol/index.js';
import { signMinisign, type MinisignKey } from '../../runtime/index.js';
import { FeedRevokedError } from '../errors.js';
import type { FeedStore } from '../store/index.js';

/** Most leaves one answer lists (ProofRequest.list_leaves): the agent bisects further before listing. */
export const MAX_LISTED_LEAVES = 256;

type ProofRequest = NonNullable<AgentMessage['proofRequest']>;

export interface ProofContext {
  store: FeedStore;
  hospital: string;
  /** The feeds the stream's Hello declared. */
  feeds: ReadonlySet<string>;
  signingKey: MinisignKey;
  /** Milliseconds since the epoch. */
  now: () => number;
  log: Logger;
}

/** The ProofAnswer to one request. */
export async function handleProofRequest(context: ProofContext, request: ProofRequest): Promise<RelayMessage> {
  const { store, hospital } = context;
  const requestId = request.requestId ?? 0;
  const feed = request.feed ?? '';
  const fromSeq = Number(request.fromSeq ?? 0);
  const toSeq = Number(request.toSeq ?? 0);
  const refuse = (error: string): RelayMessage => {
    context.log.warn({ feed, fromSeq, toSeq, error }, 'proof request refused');
    return pb.RelayMessage.create({ proofAnswer: { requestId, feed, fromSeq, toSeq, error } });
  };
  if (!context.feeds.has(feed)) return refuse(`feed "${feed}" was not declared in this stream's Hello`);
  if (fromSeq < 1 || toSeq < fromSeq) return refuse(`[${fromSeq}, ${toSeq}] is not a range of seqs (from >= 1, to >= from)`);
  const { highWaterSeq, revoked } = store.position(hospital, feed);
  if (revoked) return refuse(`feed "${feed}" is revoked: the relay holds none of its events`);
  if (toSeq > highWaterSeq) return refuse(`[${fromSeq}, ${toSeq}] runs past feed "${feed}"'s mark ${highWaterSeq}: ask only for acknowledged seqs`);

  let leaves;
  let retentionFloorSeq;
  try {
    leaves = await store.feedLeaves(hospital, feed, fromSeq, toSeq);
    // Read after the leaves: the floor only rises, so every leaf a sweep removed before they were
    // read lies at or below the floor sent, and the agent never takes it for one it must resend.
    retentionFloorSeq = (await store.feedRange(hospital, feed)).retentionFloorSeq;
  } catch (error) {
    if (error instanceof FeedRevokedError) return refuse(error.message);
    throw error;
  }
  if (request.listLeaves && leaves.length > MAX_LISTED_LEAVES) {
    return refuse(`[${fromSeq}, ${toSeq}] holds ${leaves.length} leaves, more than the ${MAX_LISTED_LEAVES} one answer lists: ask for a smaller range`);
  }
  const root = merkleRoot(leaves.map((leaf) => leafHash(feedLeafData(leaf.seq, leaf.bodySha256))));
  const answer: NonNullable<RelayMessage['proofAnswer']> = pb.ProofAnswer.create({ requestId, feed, fromSeq, toSeq, leafCount: leaves.length, root, retentionFloorSeq });
  if (request.listLeaves) answer.leaves = leaves.map((leaf) => pb.ProofLeaf.create({ seq: leaf.seq, bodySha256: leaf.bodySha256 }));

  const agrees = Number(request.leafCount ?? 0) === leaves.length && Buffer.from(request.root ?? new Uint8Array()).equals(root);
  if (request.closeWindow && agrees) {
    const signedAtMs = context.now();
    const signedText = treeHeadText({ hospital, feed, fromSeq, toSeq, treeSize: leaves.length, root, signedAtMs });
    const signature = signMinisign(context.signingKey, Buffer.from(signedText), `wardline tree head ${hospital} ${feed} ${fromSeq}-${toSeq}`);
    await store.recordTreeHead({ hospital, feed, fromSeq, toSeq, treeSize: leaves.length, root, signedAtMs, signedText, signature });
    answer.treeHead = pb.SignedTreeHead.create({ hospitalId: hospital, feed, fromSeq, toSeq, treeSize: leaves.length, root, signedAtMs, signedText, signature });
    context.log.info({ feed, fromSeq, toSeq, treeSize: leaves.length }, 'window verified complete; tree head signed');
  } else if (request.closeWindow) {
    context.log.warn({ feed, fromSeq, toSeq, agentLeaves: Number(request.leafCount ?? 0), relayLeaves: leaves.length }, 'window roots differ; the agent bisects');
  }
  return pb.RelayMessage.create({ proofAnswer: answer });
}
