// What a feed's policy let out that it should not have: identifiers found by the
// scan in values that left in clear, and bodies it could not read. Counted once per
// journal seq (a batch resent after a nack or a reconnect is not counted again) and
// reported in GET /v1/status per feed: counts by kind and where the last one was
// seen, never the identifier itself.
import { IDENTIFIER_KINDS, type IdentifierKind } from './identifiers.js';
import type { IdentifierFinding, PolicyResult } from './feed-policy.js';

export interface IdentifierSighting {
  kind: IdentifierKind;
  stream: string;
  /** The field, e.g. `NTE[2]-3` or `$.remark`. */
  path: string;
  seq: number;
  /** When the batch carrying it was built, ms since the epoch. */
  atMs: number;
}

export interface IdentifierScanStatus {
  /** Whether the feed's policy scans (`scan: true`); counts stay 0 otherwise. */
  enabled: boolean;
  /** Journal seq up to which events have been shaped (and scanned, when enabled). */
  checkedThroughSeq: number;
  /** Identifiers found where the policy let values out in clear, by kind. */
  found: Record<IdentifierKind, number>;
  /** The last one found; null before the first. */
  lastSeen: IdentifierSighting | null;
  /** The last one found per kind. */
  lastSeenByKind: Partial<Record<IdentifierKind, IdentifierSighting>>;
  /** Events whose body the policy could not read, sent empty. */
  unreadableBodies: number;
}

/** Accumulates one feed's findings across batches. */
export class IdentifierScan {
  private checkedThroughSeq = 0;
  private readonly found = Object.fromEntries(IDENTIFIER_KINDS.map((k) => [k, 0])) as Record<IdentifierKind, number>;
  private lastSeen: IdentifierSighting | null = null;
  private readonly lastSeenByKind: Partial<Record<IdentifierKind, IdentifierSighting>> = {};
  private unreadableBodies = 0;

  constructor(readonly enabled: boolean) {}

  /**
   * Records one batch's result.
   * @param throughSeq the batch's last seq: findings at or below what was already
   *   recorded are resends and not counted again.
   */
  record(result: Pick<PolicyResult, 'findings' | 'unreadableSeqs'>, throughSeq: number, atMs: number): void {
    const after = this.checkedThroughSeq;
    for (const finding of result.findings) if (finding.seq > after) this.count(finding, atMs);
    for (const seq of result.unreadableSeqs) if (seq > after) this.unreadableBodies++;
    this.checkedThroughSeq = Math.max(after, throughSeq);
  }

  status(): IdentifierScanStatus {
    return {
      enabled: this.enabled,
      checkedThroughSeq: this.checkedThroughSeq,
      found: { ...this.found },
      lastSeen: this.lastSeen,
      lastSeenByKind: { ...this.lastSeenByKind },
      unreadableBodies: this.unreadableBodies,
    };
  }

  private count(finding: IdentifierFinding, atMs: number): void {
    this.found[finding.kind]++;
    const sighting: IdentifierSighting = { kind: finding.kind, stream: finding.stream, path: finding.path, seq: finding.seq, atMs };
    this.lastSeen = sighting;
    this.lastSeenByKind[finding.kind] = sighting;
  }
}
