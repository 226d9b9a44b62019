// Checks the replication invariants after a run, from what the sources were told
// (acknowledgements), what the agent journaled, and what the relay serves.
// Pure: the caller gathers the evidence; every violation is returned, not thrown,
// so a failing run reports all of them at once.
import { createHash } from 'node:crypto';

/** One event as both sides expose it for checking. */
export interface CheckedEvent {
  seq: number;
  stream: string;
  key: string;
  op: string;
  /** The body exactly as stored (UTF-8 text for hl7v2/json). */
  body: string;
  /** HL7 MSH-10, or the ingest row's own id: what the source was acknowledged for. */
  sourceId: string;
}

export interface AcknowledgedInput {
  sourceId: string;
  stream: string;
}

export interface InvariantReport {
  violations: string[];
  acknowledged: number;
  journaled: number;
  inFeed: number;
  journalDigest: string;
  feedDigest: string;
}

/** SHA-256 over the feed's events in seq order: equal digests mean equal content and order. */
export function feedDigest(events: readonly CheckedEvent[]): string {
  const hash = createHash('sha256');
  for (const e of events) hash.update(`${e.seq}\u0000${e.stream}\u0000${e.key}\u0000${e.op}\u0000${e.body}\u0001`);
  return hash.digest('hex');
}

const MAX_LISTED = 10;

/**
 * @param acknowledged every input a source was told was accepted (HL7 AA, HTTP 200)
 * @param journal the agent's journal events of the feed's streams, in seq order
 * @param feed the relay's feed events, in the order the vendor API served them
 * @param relayAheadSamples observations during the run where the relay's high-water
 *   mark exceeded the agent's journal head (should be none)
 */
export function checkInvariants(
  acknowledged: readonly AcknowledgedInput[],
  journal: readonly CheckedEvent[],
  feed: readonly CheckedEvent[],
  relayAheadSamples: readonly string[] = [],
): InvariantReport {
  const violations: string[] = [];
  const list = (title: string, items: string[]): void => {
    if (items.length > 0) violations.push(`${title} (${items.length}): ${items.slice(0, MAX_LISTED).join(', ')}${items.length > MAX_LISTED ? ', …' : ''}`);
  };

  // 1. Nothing acknowledged is lost: each acknowledged input is in the journal and the feed.
  const journalIds = new Set(journal.map((e) => e.sourceId));
  const feedIds = new Map<string, number>();
  for (const e of feed) feedIds.set(e.sourceId, (feedIds.get(e.sourceId) ?? 0) + 1);
  list('acknowledged but not journaled', acknowledged.filter((a) => !journalIds.has(a.sourceId)).map((a) => a.sourceId));
  list('acknowledged but not in the vendor feed', acknowledged.filter((a) => !feedIds.has(a.sourceId)).map((a) => a.sourceId));

  // 2. No duplicates in the feed: neither a seq nor a source id twice.
  const seqs = new Set<number>();
  const duplicateSeqs: string[] = [];
  for (const e of feed) {
    if (seqs.has(e.seq)) duplicateSeqs.push(String(e.seq));
    seqs.add(e.seq);
  }
  list('seq served twice', duplicateSeqs);
  list('source id served twice', [...feedIds].filter(([, n]) => n > 1).map(([id]) => id));
  const journalIdCounts = new Map<string, number>();
  for (const e of journal) journalIdCounts.set(e.sourceId, (journalIdCounts.get(e.sourceId) ?? 0) + 1);
  list('source id journaled twice', [...journalIdCounts].filter(([, n]) => n > 1).map(([id]) => id));

  // 3. Order within each stream: seqs strictly increasing per stream as served.
  const lastSeqByStream = new Map<string, number>();
  const outOfOrder: string[] = [];
  for (const e of feed) {
    const last = lastSeqByStream.get(e.stream) ?? 0;
    if (e.seq <= last) outOfOrder.push(`${e.stream}:${e.seq} after ${last}`);
    lastSeqByStream.set(e.stream, e.seq);
  }
  list('out of order within a stream', outOfOrder);

  // 4. The relay never ahead of the agent: everything it serves is in the journal, identical.
  const journalBySeq = new Map(journal.map((e) => [e.seq, e]));
  const unknown: string[] = [];
  const altered: string[] = [];
  for (const e of feed) {
    const original = journalBySeq.get(e.seq);
    if (!original) unknown.push(String(e.seq));
    else if (original.body !== e.body || original.key !== e.key || original.stream !== e.stream || original.op !== e.op) altered.push(String(e.seq));
  }
  list('served by the relay but never journaled by the agent', unknown);
  list('served with content different from the journal', altered);
  list('relay high-water mark observed ahead of the agent journal', [...relayAheadSamples]);

  // 5. Per-feed digests agree.
  const journalDigest = feedDigest(journal);
  const servedDigest = feedDigest(feed);
  if (journalDigest !== servedDigest) violations.push(`feed digest ${servedDigest.slice(0, 16)} differs from journal digest ${journalDigest.slice(0, 16)}`);

  return { violations, acknowledged: acknowledged.length, journaled: journal.length, inFeed: feed.length, journalDigest, feedDigest: servedDigest };
}
