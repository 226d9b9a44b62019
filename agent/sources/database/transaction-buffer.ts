// One source transaction on its way into the journal as one append: held in memory
// while small, moved to a staged append (staged_events on disk) once it passes
// maxTransactionRowsInMemory, so a 1,000,000-row UPDATE costs one chunk of memory
// and still reaches the journal, the local copy and every feed whole or not at all.
import type { AppendResult, CaptureWriter, EventInput, StagedAppend } from '../../store/index.js';

export interface TransactionCommit {
  /** Seqs of the events, first to last (empty for a transaction with no captured rows). */
  firstSeq: number | null;
  lastSeq: number | null;
  events: number;
}

export class TransactionBuffer {
  private held: EventInput[] = [];
  private staged: StagedAppend | undefined;

  constructor(
    private readonly writer: CaptureWriter,
    private readonly source: string,
    private readonly maxInMemory: number,
  ) {}

  /** Events in this transaction so far. */
  get events(): number {
    return (this.staged?.events ?? 0) + this.held.length;
  }

  /** True once the transaction went to disk (the caller may want to say so in its status). */
  get isStaged(): boolean {
    return this.staged !== undefined;
  }

  add(event: EventInput): void {
    this.held.push(event);
    if (this.held.length >= this.maxInMemory) {
      this.staged ??= this.writer.stage(this.source);
      this.staged.add(this.held);
      this.held = [];
    }
  }

  /**
   * Commits the transaction with the source's new position, in one journal
   * transaction, and resolves once durable. A transaction with no rows still
   * saves the position when given one (an empty append), so idle tables advance it.
   */
  async commit(position: string | undefined): Promise<TransactionCommit> {
    const held = this.held;
    const staged = this.staged;
    this.held = [];
    this.staged = undefined;
    if (staged) {
      if (held.length > 0) staged.add(held);
      const commit = await staged.commit(position);
      return { firstSeq: commit.firstSeq, lastSeq: commit.lastSeq, events: commit.events };
    }
    if (held.length === 0 && position === undefined) return { firstSeq: null, lastSeq: null, events: 0 };
    const result: AppendResult = await this.writer.append({ source: this.source, events: held, position });
    return { firstSeq: result.seqs[0] ?? null, lastSeq: result.seqs[result.seqs.length - 1] ?? null, events: result.seqs.length };
  }

  /** Drops the transaction (the connection broke before its commit; the server sends it again). */
  discard(): void {
    this.staged?.discard();
    this.staged = undefined;
    this.held = [];
  }
}
