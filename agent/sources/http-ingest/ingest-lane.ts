// One lane for the commits of HTTP ingest: however many local applications post
// at once, at most one slice of their rows is queued for the journal's group
// commit at a time, so an HL7 message arriving meanwhile waits for one slice
// (DEFAULT_MAX_GROUP_EVENTS rows, about a millisecond per hundred rows), never
// for the slices of every open request. First come, first served: a request's
// next slice queues behind those already waiting, so no poster starves.

export class IngestLane {
  private tail: Promise<unknown> = Promise.resolve();
  /** Slices waiting or running. */
  queued = 0;

  /** Runs `task` once every task submitted before it has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.tail.then(task);
    this.tail = result.then(
      () => this.queued--,
      () => this.queued--,
    );
    return result;
  }
}
