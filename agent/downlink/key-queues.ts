// Per-key order for one channel, pure: events queue per key in journal order and
// only the head of a key may be delivered; the head stays until it is final, so a
// quarantined or awaiting event holds its key while other keys flow. Which heads
// go next is decided here too (due, not held, within the concurrency), keys in
// turn: a key whose head is done goes to the back of the line, so a busy key
// cannot starve a quiet one, and choosing never sorts the whole backlog.
//
// Failure modes handled:
// 1. An event added twice (a resend journaled before, a restart reloading): ignored by id.
// 2. An event removed while not at its key's head (an operator's refusal of a
//    quarantined event behind another): taken out in place, order of the rest kept.
// 3. A removal of an unknown id: nothing happens.

/** What the queues need of an event. */
export interface QueuedEvent {
  id: string;
  key: string;
  /** Journal order. */
  seq: number;
}

export class KeyQueues<T extends QueuedEvent> {
  private readonly byKey = new Map<string, T[]>();
  private readonly byId = new Map<string, T>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Adds an event behind the key's others (kept in seq order even when added late). */
  add(event: T): void {
    if (this.byId.has(event.id)) return;
    this.byId.set(event.id, event);
    const queue = this.byKey.get(event.key);
    if (!queue) {
      this.byKey.set(event.key, [event]);
      return;
    }
    let at = queue.length;
    while (at > 0 && queue[at - 1]!.seq > event.seq) at--;
    queue.splice(at, 0, event);
  }

  /** Takes a final event out; the next of its key becomes the head. */
  remove(id: string): T | undefined {
    const event = this.byId.get(id);
    if (!event) return undefined;
    this.byId.delete(id);
    const queue = this.byKey.get(event.key)!;
    const at = queue.indexOf(event);
    queue.splice(at, 1);
    this.byKey.delete(event.key);
    // Its next event waits its turn behind the other keys (a Map keeps insertion order).
    if (queue.length > 0) this.byKey.set(event.key, queue);
    return event;
  }

  /** Each key's head, keys in turn (the key served longest ago first). */
  heads(): T[] {
    return [...this.byKey.values()].map((queue) => queue[0]!);
  }

  /** Events behind their key's head (waiting for it). */
  waitingBehind(id: string): number {
    const event = this.byId.get(id);
    return event ? this.byKey.get(event.key)!.length - 1 : 0;
  }

  all(): T[] {
    return [...this.byId.values()].sort((a, b) => a.seq - b.seq);
  }
}

/**
 * The heads to start now: due (`isDue`), not already in flight, up to
 * `concurrency` in flight in all. Pure: the engine supplies the predicates.
 */
export function headsToStart<T extends QueuedEvent>(
  heads: readonly T[],
  inFlight: ReadonlySet<string>,
  concurrency: number,
  isDue: (event: T) => boolean,
): T[] {
  const free = concurrency - inFlight.size;
  if (free <= 0) return [];
  const chosen: T[] = [];
  for (const head of heads) {
    if (chosen.length >= free) break;
    if (!inFlight.has(head.id) && isDue(head)) chosen.push(head);
  }
  return chosen;
}
