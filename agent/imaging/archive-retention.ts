// Archive retention (agent.yaml archive.retention): removes instances taken
// longer ago than the retention, and only those no feed still owes. An instance
// is owed by every feed that carries its stream until that feed's relay has
// acknowledged the instance's event (acked seq at or past it); a feed the relay
// never acknowledged owes everything. Runs on the journal trim interval.
//
// Failure modes handled:
//  1. "forever" (the default): nothing is ever removed.
//  2. An old instance still owed (a feed paused for months, a relay gone): kept,
//     and the walk goes on past it to the next old instance (keyset pages).
//  3. The same bytes held under another stream (two DICOM sources took the same
//     instance): the index row is marked removed, the bytes stay for the other.
//  4. A crash mid-pass: the archive's removal is crash-safe on its own
//     (file-instance-archive.ts); the index row is marked after it, so a pass
//     after the restart removes it again (nothing held: a no-op) and marks it.
//  5. A pass still running when the next is due: the second joins the first.
import type { InstanceArchive } from './instance-archive.js';
import type { IndexedInstance, StudyIndex } from './study-index.js';
import type { StudyFeed } from './study-view.js';

/** Instances looked at per page. */
const PAGE = 500;

export interface ArchiveRetentionLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface ArchiveRetentionOptions {
  index: StudyIndex;
  archive: InstanceArchive;
  /** Instances older than this many ms go once no feed owes them; null = forever. */
  retentionMs: number | null;
  /** The feeds the archive is owed to (read at every pass: a revoked feed owes nothing). */
  feeds: () => readonly StudyFeed[];
  /** Each feed's acked seq as last saved. */
  ackedSeqs: () => ReadonlyMap<string, number>;
  clock?: () => number;
  yieldBetweenPages?: () => Promise<void>;
  log?: ArchiveRetentionLogger;
}

export interface RetentionPass {
  atMs: number;
  removedInstances: number;
  removedBytes: number;
  /** Old enough, but some feed still owes them. */
  keptOwed: number;
}

/** The feeds that still owe `instance`: they carry its stream and their relay has not acknowledged its event. */
export function feedsOwing(instance: Pick<IndexedInstance, 'stream' | 'seq'>, feeds: readonly StudyFeed[], ackedSeqs: ReadonlyMap<string, number>): string[] {
  return feeds.filter((feed) => feed.streams.includes(instance.stream) && (ackedSeqs.get(feed.name) ?? 0) < instance.seq).map((feed) => feed.name);
}

export class ArchiveRetention {
  private readonly clock: () => number;
  private readonly yieldBetweenPages: () => Promise<void>;
  private running: Promise<RetentionPass> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private last: RetentionPass | null = null;

  constructor(private readonly options: ArchiveRetentionOptions) {
    this.clock = options.clock ?? Date.now;
    this.yieldBetweenPages = options.yieldBetweenPages ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  }

  get lastPass(): RetentionPass | null {
    return this.last;
  }

  /** One pass now, or the one under way. */
  prune(): Promise<RetentionPass> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  start(intervalMs: number): void {
    if (this.timer || this.options.retentionMs === null) return;
    this.timer = setInterval(() => {
      this.prune().catch((error: unknown) => this.options.log?.warn({ err: error }, 'archive retention pass failed; retrying at the next interval'));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<RetentionPass> {
    const atMs = this.clock();
    const result: RetentionPass = { atMs, removedInstances: 0, removedBytes: 0, keptOwed: 0 };
    const { retentionMs, index, archive, log } = this.options;
    if (retentionMs === null || this.stopping) return result;
    await index.catchUp();
    const cutoffMs = atMs - retentionMs;
    const feeds = this.options.feeds();
    const acked = this.options.ackedSeqs();
    for (let after: IndexedInstance | undefined; !this.stopping; ) {
      const page = index.olderThan(cutoffMs, PAGE, after);
      for (const instance of page) {
        if (feedsOwing(instance, feeds, acked).length > 0) {
          result.keptOwed++;
          continue;
        }
        const { body } = instance;
        if (!index.bytesUsedElsewhere(instance)) await archive.remove(body);
        index.markRemoved(instance, this.clock());
        result.removedInstances++;
        result.removedBytes += body.size;
        log?.info(
          { studyUid: body.studyUid, seriesUid: body.seriesUid, sopInstanceUid: body.sopInstanceUid, sha256: body.sha256, size: body.size, seq: instance.seq, receivedAtMs: instance.receivedAtMs },
          `archive retention removed instance ${body.sopInstanceUid} of study ${body.studyUid} (${body.size} bytes, taken ${new Date(instance.receivedAtMs).toISOString()})`,
        );
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1];
      await this.yieldBetweenPages();
    }
    if (result.removedInstances > 0) {
      log?.info({ ...result, retentionMs }, `archive retention: removed ${result.removedInstances} instances (${result.removedBytes} bytes); ${result.keptOwed} past retention kept because a feed still owes them`);
    }
    this.last = result;
    return result;
  }
}
