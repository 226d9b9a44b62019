// Group commit: requests that arrive while the previous commit is running (or in
// the same turn of the event loop) are committed together in one transaction, so
// many concurrent senders share one fsync. No SQLite here: the commit function is
// handed in, which keeps the scheduling testable on its own.
//
// Failure modes handled:
//  1. A group's transaction throws: each request is retried in a transaction of its
//     own, so one bad request fails alone and the others still commit.
//  2. A burst larger than maxGroupSize requests (or maxGroupWeight, e.g. events):
//     committed in several groups, oldest first, so no single commit stalls the
//     event loop (and every ACK waiting on it) for long. A single request heavier
//     than the limit is still committed whole: it must be atomic.

export type CommitFunction<Request, Result> = (requests: readonly Request[]) => Result[];

export interface GroupCommitOptions<Request = unknown> {
  /** Most requests in one transaction. Default 1000. */
  maxGroupSize?: number;
  /** Most total weight in one transaction (with `weigh`); default unlimited. */
  maxGroupWeight?: number;
  /** A request's weight, e.g. its event count; default 1. */
  weigh?: (request: Request) => number;
  /** How the next flush is scheduled; setImmediate lets pending socket reads join the group. */
  schedule?: (callback: () => void) => void;
}

interface Pending<Request, Result> {
  request: Request;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<Request, Result> {
  private queue: Pending<Request, Result>[] = [];
  private scheduled = false;
  private readonly maxGroupSize: number;
  private readonly maxGroupWeight: number;
  private readonly weigh: (request: Request) => number;
  private readonly schedule: (callback: () => void) => void;
  /** Sizes of recent groups, for metrics: how many requests shared each fsync. */
  groupsCommitted = 0;
  requestsCommitted = 0;

  constructor(
    private readonly commit: CommitFunction<Request, Result>,
    options: GroupCommitOptions<Request> = {},
  ) {
    this.maxGroupSize = options.maxGroupSize ?? 1000;
    this.maxGroupWeight = options.maxGroupWeight ?? Infinity;
    this.weigh = options.weigh ?? (() => 1);
    this.schedule = options.schedule ?? setImmediate;
  }

  submit(request: Request): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.schedule(() => this.flush());
      }
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  private flush(): void {
    const group = this.queue.splice(0, this.groupLength());
    this.scheduled = false;
    if (this.queue.length > 0) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
    if (group.length === 0) return;
    let results: Result[];
    try {
      results = this.commit(group.map((p) => p.request));
    } catch (error) {
      if (group.length === 1) {
        group[0]!.reject(error);
        return;
      }
      for (const pending of group) this.commitAlone(pending);
      return;
    }
    this.groupsCommitted++;
    this.requestsCommitted += group.length;
    group.forEach((pending, i) => pending.resolve(results[i]!));
  }

  /** How many queued requests the next group takes: at least one, within both limits. */
  private groupLength(): number {
    let weight = 0;
    let length = 0;
    while (length < this.queue.length && length < this.maxGroupSize) {
      weight += this.weigh(this.queue[length]!.request);
      if (length > 0 && weight > this.maxGroupWeight) break;
      length++;
    }
    return length;
  }

  private commitAlone(pending: Pending<Request, Result>): void {
    try {
      const [result] = this.commit([pending.request]);
      this.groupsCommitted++;
      this.requestsCommitted++;
      pending.resolve(result!);
    } catch (error) {
      pending.reject(error);
    }
  }
}
