// The vendor side of the completeness proofs:
//   GET /v1/signing-key                           the relay's public key (minisign format), public
//   GET /v1/feeds/{feed}/tree-heads[?hospital=]   signed tree heads of the feed's verified windows, vendor key
//   GET /v1/feeds/{feed}/events/{seq}/proof[?hospital=]
//                                                 the event's RFC 9162 inclusion proof in its window, with the
//                                                 window's signed tree head, vendor key
// A vendor checks the head's signature with `minisign -V` and the relay's key, then
// the audit path against the head's root (protocol/merkle-tree.ts verifyInclusion),
// so it can prove its own copy of an event is the one the hospital sent.
//
// Failure modes handled:
//  1. An event altered at the relay after its window was signed: the proof is
//     computed from the stored bodies now, so it does not verify against the
//     signed root — the vendor sees the alteration, the relay cannot hide it.
//  2. A seq in no signed window yet, or with no event held: 404 WL_PROOF_NOT_FOUND.
//  3. A revoked feed: 410, as its events (FeedRevokedError).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { feedLeafData, inclusionProof, leafHash, NAME_PATTERN } from '../../protocol/index.js';
import { BadRequestError, ProofNotFoundError } from '../errors.js';
import type { VendorAuth } from '../feeds/index.js';
import type { FeedStore, StoredTreeHead } from '../store/index.js';
import { decodePathSegment } from './path-segment.js';

const TREE_HEADS_PATH = /^\/v1\/feeds\/([^/]+)\/tree-heads$/;
const EVENT_PROOF_PATH = /^\/v1\/feeds\/([^/]+)\/events\/([^/]+)\/proof$/;
export const SIGNING_KEY_PATH = '/v1/signing-key';

export interface ProofRouteOptions {
  store: FeedStore;
  vendors: VendorAuth;
  /** The relay's public key text (runtime/minisign.ts publicKeyText). */
  publicKeyText: string;
}

/** A signed tree head as vendors get it. */
export function treeHeadJson(head: StoredTreeHead): Record<string, unknown> {
  return {
    hospital: head.hospital,
    feed: head.feed,
    fromSeq: head.fromSeq,
    toSeq: head.toSeq,
    treeSize: head.treeSize,
    root: head.root.toString('hex'),
    signedAtMs: head.signedAtMs,
    signedText: head.signedText,
    signature: head.signature,
  };
}

/** The route's metrics name, or undefined when the path is not one of these routes. */
export function proofRouteName(path: string): string | undefined {
  if (path === SIGNING_KEY_PATH) return 'signing-key';
  if (TREE_HEADS_PATH.test(path)) return 'tree-heads';
  if (EVENT_PROOF_PATH.test(path)) return 'event-proof';
  return undefined;
}

/** Serves the routes above; undefined for any other path (the caller goes on). */
export function createProofRoutes(options: ProofRouteOptions): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | undefined {
  const { store, vendors } = options;
  const feedOf = (segment: string): string => decodePathSegment(segment, 'feed', NAME_PATTERN, 'a feed name (letters, digits, ".", "_" or "-")');

  async function treeHeads(req: IncomingMessage, res: ServerResponse, url: URL, segment: string): Promise<void> {
    const access = vendors.authorize(req.headers.authorization, feedOf(segment), url.searchParams.get('hospital') ?? undefined);
    // A revoked feed is served nothing, its heads neither: pageExtent rejects with FeedRevokedError (410).
    await store.pageExtent(access.hospital, access.feed, 0, 1);
    const heads = await store.treeHeads(access.hospital, access.feed);
    sendJson(res, { hospital: access.hospital, feed: access.feed, treeHeads: heads.map(treeHeadJson) });
  }

  async function eventProof(req: IncomingMessage, res: ServerResponse, url: URL, feedSegment: string, seqSegment: string): Promise<void> {
    const access = vendors.authorize(req.headers.authorization, feedOf(feedSegment), url.searchParams.get('hospital') ?? undefined);
    const seq = /^[1-9]\d{0,15}$/.test(seqSegment) ? Number(seqSegment) : NaN;
    if (!Number.isSafeInteger(seq)) throw new BadRequestError(`"${seqSegment}" is not a seq (a positive integer)`);
    const head = (await store.treeHeads(access.hospital, access.feed)).find((h) => h.fromSeq <= seq && seq <= h.toSeq);
    if (!head) {
      throw new ProofNotFoundError(`no signed tree head of feed "${access.feed}" covers seq ${seq} yet: its window is not closed and verified (GET /v1/feeds/${access.feed}/tree-heads lists those that are)`, access.hospital, access.feed);
    }
    const leaves = await store.feedLeaves(access.hospital, access.feed, head.fromSeq, head.toSeq);
    const index = leaves.findIndex((leaf) => leaf.seq === seq);
    if (index < 0) throw new ProofNotFoundError(`the relay holds no event of feed "${access.feed}" at seq ${seq}`, access.hospital, access.feed);
    const hashes = leaves.map((leaf) => leafHash(feedLeafData(leaf.seq, leaf.bodySha256)));
    sendJson(res, {
      hospital: access.hospital,
      feed: access.feed,
      seq,
      bodySha256: leaves[index]!.bodySha256.toString('hex'),
      leafIndex: index,
      treeSize: leaves.length,
      auditPath: inclusionProof(hashes, index).map((hash) => hash.toString('hex')),
      treeHead: treeHeadJson(head),
    });
  }

  return (req, res, url) => {
    if (url.pathname === SIGNING_KEY_PATH) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(options.publicKeyText);
      return Promise.resolve();
    }
    const heads = TREE_HEADS_PATH.exec(url.pathname);
    if (heads) return treeHeads(req, res, url, heads[1]!);
    const proof = EVENT_PROOF_PATH.exec(url.pathname);
    if (proof) return eventProof(req, res, url, proof[1]!, proof[2]!);
    return undefined;
  };
}

function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
