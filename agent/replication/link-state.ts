// The replication link's state machine, in the style of grpc-js subchannels:
// one union of states, one guarded transition function that logs `a -> b`,
// refuses illegal moves, and publishes every change to subscribers.
import { IllegalLinkTransitionError } from './errors.js';

// A feed the operator pauses is held by its pump (FeedPump gate), not by the
// link: the link goes on streaming the other feeds.
/** Every state a link can be in, in the order a dashboard lists them. */
export const LINK_STATES = ['offline', 'connecting', 'streaming', 'backoff', 'closed'] as const;
export type LinkState = (typeof LINK_STATES)[number];

const ALLOWED: Record<LinkState, readonly LinkState[]> = {
  offline: ['connecting', 'closed'],
  connecting: ['streaming', 'backoff', 'closed'],
  streaming: ['backoff', 'closed'],
  backoff: ['connecting', 'closed'],
  closed: [],
};

export interface LinkTransition {
  from: LinkState;
  to: LinkState;
  /** Milliseconds since the epoch. */
  atMs: number;
  /** Why: the error that ended a stream, "welcome received", "stop requested". */
  reason: string;
}


export interface LinkLogger {
  info(fields: object, message: string): void;
}

export class LinkStateMachine {
  private current: LinkState = 'offline';
  private sinceMs: number;
  private lastErrorText: string | undefined;
  /**
   * When the link last stopped streaming (ms since the epoch), kept across the
   * backoff -> connecting -> backoff retries of one outage: only streaming ends
   * it. From construction until the first stream, the link has been down since
   * it was made. null while streaming.
   */
  private downSince: number | null;
  private readonly listeners = new Set<(transition: LinkTransition) => void>();
  /** Recent transitions, newest last, for status pages. */
  readonly history: LinkTransition[] = [];

  constructor(private readonly relay: string, private readonly log: LinkLogger, private readonly clock: () => number = Date.now, private readonly historyLimit = 200) {
    this.sinceMs = clock();
    this.downSince = this.sinceMs;
  }

  /** When the current outage began (ms since the epoch); null while streaming. */
  get downSinceMs(): number | null {
    return this.downSince;
  }

  get state(): LinkState {
    return this.current;
  }

  get since(): number {
    return this.sinceMs;
  }

  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  /** Moves to `to`; throws IllegalLinkTransitionError for a move the table does not allow. */
  transition(to: LinkState, reason: string, error?: Error): void {
    const from = this.current;
    if (!ALLOWED[from].includes(to)) throw new IllegalLinkTransitionError(from, to);
    const transition: LinkTransition = { from, to, atMs: this.clock(), reason };
    this.current = to;
    this.sinceMs = transition.atMs;
    if (to === 'streaming') this.downSince = null;
    else if (from === 'streaming') this.downSince = transition.atMs;
    if (error) this.lastErrorText = error.message;
    this.history.push(transition);
    if (this.history.length > this.historyLimit) this.history.shift();
    this.log.info({ relay: this.relay, from, to, reason }, `link ${from} -> ${to}`);
    for (const listener of this.listeners) listener(transition);
  }

  /** Subscribes to transitions; returns the unsubscribe function. */
  subscribe(listener: (transition: LinkTransition) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Transitions as an async iterable (dashboard, tests); ends when the link closes. */
  async *transitions(): AsyncGenerator<LinkTransition> {
    const queue: LinkTransition[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe((t) => {
      queue.push(t);
      wake?.();
    });
    try {
      for (;;) {
        while (queue.length > 0) {
          const next = queue.shift()!;
          yield next;
          if (next.to === 'closed') return;
        }
        if (this.current === 'closed') return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      unsubscribe();
    }
  }
}
