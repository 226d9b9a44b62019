// A purge receipt: what the relay deleted of a hospital's feeds, when, at whose
// request and how the bytes were made unrecoverable, as canonical JSON signed
// with the relay's key in minisign's format — so the hospital keeps evidence
// that `minisign -Vm receipt.json -p relay-signing.pub` checks without Wardline.
//
// Canonical: keys sorted at every level, two-space indent, one final newline;
// the same receipt always gives the same bytes, and the bytes are what is signed.
// Each feed's treeSize, merkleRoot, events and bodyBytes come from scanFeed taken
// just before the deletion, as an export's manifest's do (the same function of
// the same events), so they equal those of an export made just before.
import { keyIdText, signMinisign, type MinisignKey } from '../../runtime/index.js';
import type { Erasure } from '../store/index.js';

export const PURGE_RECEIPT_FORMAT = 'wardline-purge-receipt-v1';

/** One purged feed in a receipt. */
export interface PurgedFeedEntry {
  feed: string;
  /** The feed's high-water mark (what was stored) just before the purge. */
  highWaterSeq: number;
  /** The seq vendors could read through, which the tree covers (as the export's visibleSeq). */
  visibleSeq: number;
  /** Events and body bytes in the tree: as the export's manifest counts them. */
  events: number;
  bodyBytes: number;
  /** RFC 9162 tree over (seq, SHA-256 of body) of those events; hex. */
  treeSize: number;
  merkleRoot: string;
  /** What the deletion removed (events past visibleSeq of a transaction not yet complete included). */
  eventsDeleted: number;
  bytesDeleted: number;
  /** Imaging instances the feed's events named, chunks deleted (no other feed of the hospital needed them), their bytes. */
  blobInstances: number;
  blobChunks: number;
  chunkBytes: number;
  /** Signed tree heads of the feed deleted. */
  treeHeadsDeleted: number;
  /** When the feed had been revoked before this purge (its events were erased then; the tree is then empty), ISO 8601; null if not. */
  revokedBefore: string | null;
}

export interface PurgeReceipt {
  format: typeof PURGE_RECEIPT_FORMAT;
  relayId: string;
  /** The minisign key id of the key that signed it (as `minisign -V` prints it). */
  signingKeyId: string;
  hospital: string;
  /** 'feed' for one feed (the hospital's agent, or the operator with --feed), 'hospital' for all of it (contract end). */
  scope: 'feed' | 'hospital';
  feeds: PurgedFeedEntry[];
  /** The hospital's agent ledger heads deleted (a hospital purge; 0 for a feed). */
  ledgerHeadsDeleted: number;
  /** A hospital's purge on a relay with the downlink: the inbound events vendors wrote for it and their receipts, deleted. */
  inboundDeleted?: { events: number; receipts: number };
  /** Who asked: the hospital's agent (and who ran the command there) or the relay operator. */
  requestedBy: string;
  reason: string;
  /** When the deletion finished, ISO 8601. */
  purgedAt: string;
  /** How the deleted bytes were made unrecoverable from the relay's files (over every feed: all truncated, the strongest vacuum, pages summed). */
  erasure: Erasure & { secureDelete: true };
}

/** A receipt with its exact text and signature. */
export interface SignedPurgeReceipt {
  receipt: PurgeReceipt;
  /** The canonical JSON text, exactly as signed. */
  text: string;
  /** The minisign signature (.minisig text). */
  signature: string;
}

/** The receipt as signed: keys sorted at every level, two-space indent, final newline (not the ledger's RFC 8785 form: a receipt is read by people). */
function receiptText(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** The one-line trusted comment `minisign -V` prints: the receipt's subject, bound to the signature. */
export function receiptTrustedComment(receipt: PurgeReceipt): string {
  const feeds = receipt.scope === 'hospital' ? '*' : receipt.feeds.map((f) => f.feed).join(',');
  return `${PURGE_RECEIPT_FORMAT} relay=${receipt.relayId} hospital=${receipt.hospital} feeds=${feeds} purgedAt=${receipt.purgedAt}`;
}

/** Signs a receipt with the relay's key. */
export function signPurgeReceipt(receipt: Omit<PurgeReceipt, 'signingKeyId'>, key: MinisignKey): SignedPurgeReceipt {
  const full: PurgeReceipt = { ...receipt, signingKeyId: keyIdText(key.keyId) };
  const text = receiptText(full);
  return { receipt: full, text, signature: signMinisign(key, Buffer.from(text, 'utf8'), receiptTrustedComment(full), 'wardline purge receipt, signed by the relay') };
}

/** Erasures of several feeds as one: truncated only if every one was, the strongest vacuum, free pages summed. */
export function combinedErasure(erasures: readonly Erasure[]): Erasure {
  const rank = { none: 0, incremental: 1, full: 2 } as const;
  return {
    walTruncated: erasures.every((e) => e.walTruncated),
    vacuum: erasures.reduce<Erasure['vacuum']>((strongest, e) => (rank[e.vacuum] > rank[strongest] ? e.vacuum : strongest), 'none'),
    freePagesReleased: erasures.reduce((sum, e) => sum + e.freePagesReleased, 0),
  };
}
