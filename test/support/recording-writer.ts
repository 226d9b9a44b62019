import type { AppendRequest, AppendResult, JournalWriter } from '../../agent/store/index.js';

/**
 * Stands in for the SQLite journal: records every request, dedupes on the dedupe key
 * (id and digest) and reports an id held with another digest as reused, as the store
 * does, and can be told to fail or to hold commits until released.
 */
export class RecordingWriter implements JournalWriter {
  readonly requests: AppendRequest[] = [];
  readonly journal: AppendRequest[] = [];
  failure: Error | undefined;
  hold = false;
  private readonly held: (() => void)[] = [];
  private readonly seen = new Map<string, number[]>();
  private readonly ids = new Set<string>();
  private seq = 0;

  async append(request: AppendRequest): Promise<AppendResult> {
    this.requests.push(request);
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.failure !== undefined) throw this.failure;
    const id = `${request.dedupe?.scope}\u0000${request.dedupe?.id}`;
    const key = `${id}\u0000${request.dedupe?.digest}`;
    const earlier = this.seen.get(key);
    if (earlier !== undefined) return { seqs: earlier, duplicate: true };
    const seqs = request.events.map(() => ++this.seq);
    const reused = this.ids.has(id);
    this.seen.set(key, seqs);
    this.ids.add(id);
    this.journal.push(request);
    return reused ? { seqs, duplicate: false, idReused: true } : { seqs, duplicate: false };
  }

  /** Commits held appends, last first, to show ACK order does not follow commit order. */
  releaseInReverse(): void {
    this.hold = false;
    for (const release of this.held.splice(0).reverse()) release();
  }

  get holding(): number {
    return this.held.length;
  }
}
