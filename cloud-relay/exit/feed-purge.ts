// Purge: the relay deletes a feed (the hospital's agent asks) or a whole
// hospital (the operator, at contract end), makes the bytes unrecoverable from
// its files with the revoke's erasure (secure_delete, WAL truncate, vacuum) and
// answers with a signed receipt (purge-receipt.ts), which it also keeps.
//
// Failure modes handled:
//  1. A name the relay holds nothing of (a typo, another relay): refused
//     before anything is deleted (PurgeRefusedError, WL_PURGE_UNKNOWN_*).
//  2. A purge asked again (the answer was lost on a cut line, the operator runs
//     it twice): a feed already purged and still revoked is not purged again;
//     the kept receipt is answered, marked alreadyPurged.
//  3. A feed revoked before the purge: its events were erased then; the purge
//     deletes whatever else is left and its receipt says when it was revoked
//     (the tree is then empty, as an export of it would refuse).
//  4. Two purges at once (the agent and the operator): run one after the other,
//     so the second sees the first's receipt.
//  5. The relay stops mid-purge: the revocation is durable before anything is
//     deleted (nothing is served or stored from then on); the repeat deletes
//     what is left and signs a receipt then.
//  6. A batch of the feed arriving meanwhile: refused as a revoked feed's from
//     the moment of the mark (the store decides it under its write lock).
import { EMPTY_TREE_ROOT } from '../../protocol/index.js';
import type { MinisignKey } from '../../runtime/index.js';
import { PurgeRefusedError, RelayErrorCode } from '../errors.js';
import { feedFigures, scanFeed, type BlobStore, type Erasure, type FeedStore, type LedgerHeadInput } from '../store/index.js';
import { combinedErasure, signPurgeReceipt, type PurgedFeedEntry, type SignedPurgeReceipt } from './purge-receipt.js';

export interface FeedPurgerDeps {
  store: FeedStore;
  /** Imaging chunks; absent = this relay holds none. */
  blobs?: BlobStore;
  /** Absent = the relay cannot sign, so every purge is refused (nothing deleted). */
  signingKey?: MinisignKey;
  relayId: string;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Told after each feed is purged (the vendors' in-memory read positions of it are dropped). */
  onPurged?: (hospital: string, feed: string) => void;
  /** Vendors' inbound events and receipts (the downlink): a hospital's purge deletes them too. Absent = the relay holds none. */
  inbound?: { forgetHospital(hospital: string): Promise<{ events: number; receipts: number }> };
}

export interface PurgeRequest {
  hospital: string;
  /** One feed; absent = every feed of the hospital and its ledger heads (contract end). */
  feed?: string;
  reason: string;
  requestedBy: string;
  /** The agent's egress-ledger head sent with the request, kept like a revoke's. */
  ledgerHead?: LedgerHeadInput | null;
}

export interface PurgeResult extends SignedPurgeReceipt {
  /** True when nothing was deleted now: the receipt is the one kept from the earlier purge. */
  alreadyPurged: boolean;
}

/** What the relay holds of a hospital, to decide what a purge covers. */
interface HospitalHoldings {
  live: Set<string>;
  revoked: Map<string, number>;
  purged: Map<string, { purgedAtMs: number; receipt: string; signature: string }>;
  ledgerHeads: number;
}

export class FeedPurger {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: FeedPurgerDeps) {}

  /** True when purges can be signed (Welcome lists "purge-v1" then). */
  get canSign(): boolean {
    return this.deps.signingKey !== undefined;
  }

  /**
   * Purges one feed or the whole hospital and resolves with the signed receipt
   * (kept in the store too). Rejects with PurgeRefusedError, deleting nothing,
   * for a hospital or feed the relay holds nothing of, or without a signing key.
   */
  purge(request: PurgeRequest): Promise<PurgeResult> {
    const run = this.queue.then(() => this.purgeNow(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async purgeNow(request: PurgeRequest): Promise<PurgeResult> {
    const { hospital, feed } = request;
    const key = this.deps.signingKey;
    if (!key) throw new PurgeRefusedError('this relay has no signing key, so it cannot sign a purge receipt; nothing was deleted', RelayErrorCode.PURGE_UNSIGNED);
    const held = await this.holdings(hospital);
    const known = held.live.size + held.revoked.size + held.purged.size + held.ledgerHeads > 0;
    if (!known) {
      throw new PurgeRefusedError(`hospital "${hospital}" holds nothing on this relay (no feed, revocation, purge receipt or ledger head); nothing was deleted — check the hospital id`, RelayErrorCode.PURGE_UNKNOWN_HOSPITAL);
    }
    const purgeable = (name: string) => held.live.has(name) || (held.revoked.has(name) && !held.purged.has(name));
    let feeds: string[];
    if (feed !== undefined) {
      if (!purgeable(feed)) {
        const earlier = held.purged.get(feed);
        if (earlier && held.revoked.has(feed)) return { ...parseKept(earlier), alreadyPurged: true };
        const names = [...new Set([...held.live, ...held.revoked.keys()])].sort();
        throw new PurgeRefusedError(
          `hospital "${hospital}" has no feed "${feed}" on this relay; nothing was deleted — it holds ${names.length > 0 ? names.map((n) => `"${n}"`).join(', ') : 'no feed'}`,
          RelayErrorCode.PURGE_UNKNOWN_FEED,
        );
      }
      feeds = [feed];
    } else {
      feeds = [...new Set([...held.live, ...held.revoked.keys()])].filter(purgeable).sort();
      if (feeds.length === 0 && held.ledgerHeads === 0) {
        const latest = [...held.purged.values()].sort((a, b) => b.purgedAtMs - a.purgedAtMs)[0]!;
        return { ...parseKept(latest), alreadyPurged: true };
      }
    }

    // Contract end takes the downlink's data too: what vendors wrote for the hospital and its receipts.
    // Deleted before the feeds, so the feeds' erasure (relay.db and its WAL) covers their pages as well.
    const inboundDeleted = feed === undefined && this.deps.inbound ? await this.deps.inbound.forgetHospital(hospital) : undefined;
    const entries: PurgedFeedEntry[] = [];
    const erasures: Erasure[] = [];
    for (const name of feeds) {
      const { entry, erasure } = await this.purgeOne(request, name, held.revoked.get(name));
      entries.push(entry);
      erasures.push(erasure);
    }
    const ledgerHeadsDeleted = feed === undefined ? await this.deps.store.forgetLedgerHeads(hospital) : 0;
    const purgedAtMs = this.deps.now();
    const signed = signPurgeReceipt(
      {
        format: 'wardline-purge-receipt-v1',
        relayId: this.deps.relayId,
        hospital,
        scope: feed === undefined ? 'hospital' : 'feed',
        feeds: entries,
        ledgerHeadsDeleted,
        ...(inboundDeleted ? { inboundDeleted } : {}),
        requestedBy: request.requestedBy,
        reason: request.reason,
        purgedAt: new Date(purgedAtMs).toISOString(),
        erasure: { ...combinedErasure(erasures), secureDelete: true },
      },
      key,
    );
    for (const name of feeds) await this.deps.store.recordPurge({ hospital, feed: name, purgedAtMs, receipt: signed.text, signature: signed.signature });
    return { ...signed, alreadyPurged: false };
  }

  /** Takes the feed's final figures (scanFeed, as the export), then deletes and erases it. */
  private async purgeOne(request: PurgeRequest, feed: string, revokedAtMs: number | undefined): Promise<{ entry: PurgedFeedEntry; erasure: Erasure }> {
    const { store, blobs } = this.deps;
    const { hospital } = request;
    const highWaterSeq = store.position(hospital, feed).highWaterSeq;
    // A revoked feed has no events left to hash (and readEvents refuses it).
    const scan = revokedAtMs === undefined ? await scanFeed(store, hospital, feed) : { throughSeq: 0, events: 0, bodyBytes: 0, root: Buffer.from(EMPTY_TREE_ROOT) };
    const blobInstances = blobs ? ((await blobs.usage()).find((u) => u.hospital === hospital && u.feed === feed)?.instances ?? 0) : 0;
    let blobDeletion = { chunksDeleted: 0, bytesDeleted: 0 };
    const deletion = await store.purgeFeed({
      hospital,
      feed,
      reason: `purge: ${request.reason}`,
      ledgerHead: request.ledgerHead ?? null,
      alsoDelete: blobs
        ? async () => {
            blobDeletion = await blobs.deleteFeed(hospital, feed);
          }
        : undefined,
    });
    this.deps.onPurged?.(hospital, feed);
    return {
      entry: {
        feed,
        ...feedFigures(scan, highWaterSeq),
        eventsDeleted: deletion.eventsDeleted,
        bytesDeleted: deletion.bytesDeleted,
        blobInstances,
        blobChunks: blobDeletion.chunksDeleted,
        chunkBytes: blobDeletion.bytesDeleted,
        treeHeadsDeleted: deletion.treeHeadsDeleted,
        revokedBefore: revokedAtMs === undefined ? null : new Date(revokedAtMs).toISOString(),
      },
      erasure: deletion.erasure,
    };
  }

  private async holdings(hospital: string): Promise<HospitalHoldings> {
    const { store } = this.deps;
    const [sizes, revocations, purges, heads] = await Promise.all([store.feedSizes(), store.revocations(), store.purges(hospital), store.ledgerHeads()]);
    return {
      live: new Set(sizes.filter((s) => s.hospital === hospital).map((s) => s.feed)),
      revoked: new Map(revocations.filter((r) => r.hospital === hospital).map((r) => [r.feed, r.revokedAtMs])),
      purged: new Map(purges.map((p) => [p.feed, p])),
      ledgerHeads: heads.filter((h) => h.hospital === hospital).length,
    };
  }
}

function parseKept(kept: { receipt: string; signature: string }): SignedPurgeReceipt {
  return { receipt: JSON.parse(kept.receipt) as SignedPurgeReceipt['receipt'], text: kept.receipt, signature: kept.signature };
}
