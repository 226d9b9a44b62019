// The live tail across relay processes: one dedicated PostgreSQL connection
// LISTENs on the feed doorbell (feed-doorbell.ts) and hands every mark it
// hears to the feed store (observe), which wakes this process's live tails;
// a poll of every feed's marks (readMarks) every liveTailPollMs catches
// whatever a notification did not bring.
//
// Failure modes handled:
//  1. The LISTEN connection is cut (server restart, failover, an idle
//     timeout, pg_terminate_backend): the client is dropped, a new one
//     connects after a backoff (LISTEN_BACKOFF_MS doubling to
//     LISTEN_BACKOFF_MAX_MS) and LISTENs again. Notifications sent while no
//     connection listened are lost by PostgreSQL's design, so right after
//     every (re)connect the listener polls once: nothing committed before
//     the LISTEN took effect is missed.
//  2. A notification is lost anyway (a bug, a proxy): the periodic poll
//     brings the mark within liveTailPollMs. A lost doorbell delays a tail by
//     at most that; it never loses an event, because tails read events from
//     the database, never from the doorbell.
//  3. A transaction-pooling PgBouncer between the relay and PostgreSQL: LISTEN
//     does not survive a transaction pool (the server connection goes back to
//     the pool), so no notification ever arrives and every tail runs at the
//     poll's pace. Use a session pool or a direct connection (README).
//  4. A malformed payload on the channel (someone else's NOTIFY): ignored.
//  5. Marks arrive out of order (a poll's read overtaken by a notification):
//     observe() only moves a feed forward, so an older mark changes nothing.
//  6. Polls overlap (a slow database): one at a time; a tick while one is in
//     flight is skipped.
import type pg from 'pg';
import type { Logger } from 'pino';
import { FEED_DOORBELL_CHANNEL, parseFeedDoorbell, type FeedMark } from './feed-doorbell.js';
import type { RelayDatabase } from './relay-database.js';

/** The first reconnect delay after the LISTEN connection broke, in milliseconds. */
export const LISTEN_BACKOFF_MS = 100;
/** The longest reconnect delay, in milliseconds (a database down for long is retried this often). */
export const LISTEN_BACKOFF_MAX_MS = 5_000;

/** What the listener feeds: the PostgreSQL feed store (readMarks for the poll, observe for every mark). */
export interface FeedMarkSink {
  readMarks(): Promise<FeedMark[]>;
  observe(mark: FeedMark): void;
}

export type DoorbellState = 'idle' | 'connecting' | 'listening' | 'backoff' | 'closed';

export interface DoorbellFigures {
  state: DoorbellState;
  /** Doorbell notifications received (and handed to the store). */
  notifications: number;
  /** Polls completed (periodic and after each connect). */
  polls: number;
  /** Polls that failed (the database was unreachable). */
  pollErrors: number;
  /** Times the LISTEN connection was (re)established. */
  connects: number;
  /** Times it broke. */
  disconnects: number;
  /** The backend pid of the LISTEN connection while listening (pg_stat_activity; tests terminate it). */
  listenerPid: number | null;
}

export interface FeedDoorbellListenerOptions {
  database: RelayDatabase;
  store: FeedMarkSink;
  /** Poll interval, in milliseconds (store.liveTailPollMs). */
  pollMs: number;
  logger?: Logger;
  /** Told of every mark handed to the store, after observe (the bench's commit→delivery probe). */
  onMark?: (mark: FeedMark, via: 'notification' | 'poll') => void;
  /**
   * Other doorbells heard on the same connection (the inbound store's): each
   * payload on `channel` goes to `observe`. They have no poll here: their
   * owners re-read on a timer of their own.
   */
  channels?: readonly { channel: string; observe: (payload: string) => void }[];
}

const LEGAL: Record<DoorbellState, readonly DoorbellState[]> = {
  idle: ['connecting', 'closed'],
  connecting: ['listening', 'backoff', 'closed'],
  listening: ['backoff', 'closed'],
  backoff: ['connecting', 'closed'],
  closed: [],
};

export class FeedDoorbellListener {
  private state: DoorbellState = 'idle';
  private client: pg.Client | null = null;
  private backoffMs = LISTEN_BACKOFF_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | null = null;
  private readonly counts = { notifications: 0, polls: 0, pollErrors: 0, connects: 0, disconnects: 0 };
  private listenerPid: number | null = null;

  constructor(private readonly options: FeedDoorbellListenerOptions) {}

  /** Connects and LISTENs (resolves after the first attempt, listening or in backoff) and starts the poll. */
  async start(): Promise<void> {
    this.pollTimer = setInterval(() => void this.poll(), this.options.pollMs);
    this.pollTimer.unref();
    await this.connect();
  }

  get figures(): DoorbellFigures {
    return { state: this.state, ...this.counts, listenerPid: this.listenerPid };
  }

  /** One poll now (also the timer's); never rejects (failure mode 6). */
  poll(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.polling ??= this.options.store
      .readMarks()
      .then(
        (marks) => {
          this.counts.polls += 1;
          for (const mark of marks) this.hand(mark, 'poll');
        },
        (error: unknown) => {
          this.counts.pollErrors += 1;
          this.options.logger?.debug({ err: (error as Error).message }, 'live-tail poll failed; retried at the next tick');
        },
      )
      .finally(() => (this.polling = null));
    return this.polling;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.transition('closed');
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
    await this.polling;
  }

  private async connect(): Promise<void> {
    if (this.state === 'closed') return;
    this.transition('connecting');
    const client = this.options.database.newClient();
    this.client = client;
    let broken = false;
    const onBroken = (error?: Error) => {
      if (broken) return;
      broken = true;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.client === client) this.client = null;
      if (this.state === 'closed') return;
      if (this.state === 'listening') {
        this.counts.disconnects += 1;
        this.options.logger?.warn({ err: error?.message }, 'the live-tail LISTEN connection broke; reconnecting (tails poll meanwhile)');
      }
      this.listenerPid = null;
      this.scheduleReconnect();
    };
    // Failure mode 1: both fire on a cut; onBroken runs once.
    client.on('error', onBroken);
    client.on('end', () => onBroken());
    const others = new Map((this.options.channels ?? []).map((c) => [c.channel, c.observe]));
    client.on('notification', (message) => {
      const other = others.get(message.channel);
      if (other) return other(message.payload ?? '');
      if (message.channel !== FEED_DOORBELL_CHANNEL) return;
      const mark = parseFeedDoorbell(message.payload);
      if (!mark) return; // failure mode 4
      this.counts.notifications += 1;
      this.hand(mark, 'notification');
    });
    try {
      await client.connect();
      // Channel names are constants of this code base, never input: safe to splice.
      for (const channel of [FEED_DOORBELL_CHANNEL, ...others.keys()]) await client.query(`LISTEN ${channel}`);
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (broken || this.closed) return;
      this.listenerPid = rows[0]!.pid;
      this.counts.connects += 1;
      this.backoffMs = LISTEN_BACKOFF_MS;
      this.transition('listening');
    } catch (error) {
      onBroken(error as Error);
      return;
    }
    // Failure mode 1: what was committed while nobody listened.
    await this.poll();
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.state === 'backoff') return;
    this.transition('backoff');
    const delay = this.backoffMs;
    this.backoffMs = Math.min(LISTEN_BACKOFF_MAX_MS, this.backoffMs * 2);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private hand(mark: FeedMark, via: 'notification' | 'poll'): void {
    this.options.store.observe(mark);
    this.options.onMark?.(mark, via);
  }

  // A method, not a narrowed field read: close() may run during any await.
  private get closed(): boolean {
    return this.state === 'closed';
  }

  private transition(to: DoorbellState): void {
    const from = this.state;
    if (from === to) return;
    if (!LEGAL[from].includes(to)) throw new Error(`feed doorbell listener: illegal transition ${from} -> ${to}`);
    this.state = to;
    this.options.logger?.debug({ from, to }, `feed doorbell listener ${from} -> ${to}`);
  }
}
