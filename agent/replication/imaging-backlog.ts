// What an imaging feed still owes the relay: its blob-ref events after the
// acknowledged seq (studies, instances, bytes). A running view: events are read
// once as the journal grows (at most SCAN_STEP positions per status call, so a
// long backlog is counted over a few calls rather than stalling one) and
// dropped as acks pass them, so a status call never rescans the journal.
import { BLOB_REF_CONTENT_TYPE, parseImagingInstanceBody } from '../../protocol/index.js';
import { JournalTrimmedError, type Journal } from '../store/index.js';

/** Journal positions read per catch-up call. */
const SCAN_STEP = 50_000;
const READ_LIMITS = { maxEvents: 5_000, maxBytes: 8 << 20, maxScan: SCAN_STEP };

interface WaitingInstance {
  studyUid: string;
  sha256: string;
  size: number;
}

export interface ImagingBacklogCounts {
  studiesWaiting: number;
  instancesWaiting: number;
  bytesWaiting: number;
}

export class ImagingBacklog {
  /** Blob-ref events after the acked seq, by seq, in seq order (Map keeps insertion order). */
  private readonly waiting = new Map<number, WaitingInstance>();
  private scannedThrough: number;
  private ackedThrough: number;

  constructor(
    private readonly journal: Journal,
    private readonly streams: readonly string[],
    ackedSeq: number,
  ) {
    this.scannedThrough = this.ackedThrough = ackedSeq;
  }

  /** The relay's mark on a new stream: what is after it is owed again. */
  reset(ackedSeq: number): void {
    if (ackedSeq >= this.ackedThrough && ackedSeq <= this.scannedThrough) {
      this.acked(ackedSeq);
      return;
    }
    this.waiting.clear();
    this.scannedThrough = this.ackedThrough = ackedSeq;
  }

  /** Everything through `seq` is acknowledged. */
  acked(seq: number): void {
    if (seq <= this.ackedThrough) return;
    this.ackedThrough = seq;
    for (const at of this.waiting.keys()) {
      if (at > seq) break;
      this.waiting.delete(at);
    }
    if (this.scannedThrough < seq) this.scannedThrough = seq;
  }

  /** Counts, after reading what was journaled since the last call. `shipped`: instances the relay holds already. */
  counts(shipped: (sha256: string) => boolean, currentDoneBytes: number): ImagingBacklogCounts {
    this.catchUp();
    const studies = new Set<string>();
    let bytes = 0;
    for (const instance of this.waiting.values()) {
      studies.add(instance.studyUid);
      if (!shipped(instance.sha256)) bytes += instance.size;
    }
    return { studiesWaiting: studies.size, instancesWaiting: this.waiting.size, bytesWaiting: Math.max(0, bytes - currentDoneBytes) };
  }

  private catchUp(): void {
    const target = Math.min(this.journal.head, this.scannedThrough + SCAN_STEP);
    while (this.scannedThrough < target) {
      let range;
      try {
        range = this.journal.readRange(this.streams, this.scannedThrough, { ...READ_LIMITS, maxScan: target - this.scannedThrough });
      } catch (error) {
        if (!(error instanceof JournalTrimmedError)) throw error;
        // Trimmed positions were acknowledged by every feed: nothing of them is owed.
        this.scannedThrough = error.oldestRetainedSeq - 1;
        continue;
      }
      if (!range) return;
      for (const event of range.events) {
        if (event.contentType !== BLOB_REF_CONTENT_TYPE || event.op !== 'upsert') continue;
        try {
          const body = parseImagingInstanceBody(event.body);
          this.waiting.set(event.seq, { studyUid: body.studyUid, sha256: body.sha256, size: body.size });
        } catch {
          // An unreadable body is the shipper's problem to report (it holds the feed); not counted here.
        }
      }
      this.scannedThrough = range.lastSeq;
    }
  }
}
