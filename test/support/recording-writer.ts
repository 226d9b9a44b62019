import type { AppendRequest, AppendResult, JournalWriter } from '../../agent/store/index.js';

/**
 * Stands in for the SQLite journal: records every request, dedupes on the dedupe key
 * (id and digest) and reports an id held with another digest as reused, as the store
 * does, and can be told to fail or to hold commits until released. Held to the
 * JournalWriter contract (test/contract/journal-writer.contract.test.ts).
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
  private readonly stored: { seq: number; stream: string; key: string; source: string; body: string }[] = [];
  private closed = false;

  async append(request: AppendRequest): Promise<AppendResult> {
    this.requests.push(request);
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new Error('The recording writer is closed');
    const id = request.dedupe === undefined ? undefined : `${request.dedupe.scope}\u0000${request.dedupe.id}`;
    const key = `${id}\u0000${request.dedupe?.digest}`;
    const earlier = id === undefined ? undefined : this.seen.get(key);
    if (earlier !== undefined) return { seqs: earlier, duplicate: true };
    const seqs = request.events.map(() => ++this.seq);
    const reused = id !== undefined && this.ids.has(id);
    if (id !== undefined) {
      this.seen.set(key, seqs);
      this.ids.add(id);
    }
    this.journal.push(request);
    request.events.forEach((e, i) => this.stored.push({ seq: seqs[i]!, stream: e.stream, key: e.key, source: request.source, body: e.body.toString('utf8') }));
    return reused ? { seqs, duplicate: false, idReused: true } : { seqs, duplicate: false };
  }

  /** Commits held appends, last first, to show ACK order does not follow commit order. */
  releaseInReverse(): void {
    this.hold = false;
    for (const release of this.held.splice(0).reverse()) release();
  }

  /** Every event appended, with its seq, in seq order. */
  committed(): { seq: number; stream: string; key: string; source: string; body: string }[] {
    return this.stored.map((e) => ({ ...e }));
  }

  /** Appends after this reject, as a closed database's do. */
  close(): void {
    this.closed = true;
  }

  get holding(): number {
    return this.held.length;
  }
}
