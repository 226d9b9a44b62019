// The replication connection of a PostgreSQL source: START_REPLICATION on its
// slot with pgoutput (proto_version 1) through pg-logical-replication, with that
// library's automatic acknowledgement switched off: its timer would confirm the
// last *received* LSN, ahead of the journal. Here the only position ever sent to
// the server is the one the source says is committed (confirm()), in reply to
// every keepalive that asks, and every few seconds even while the source is busy
// with a long commit, so the walsender never times out.
//
// Messages and keepalives are handed on in the order the server sent them,
// one at a time (each awaited), and the socket is paused while more than a
// bounded number wait: a slow journal holds the stream back instead of filling
// memory. A keepalive handed on means everything sent before it was handled.
import type pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { formatLsn } from './postgres-lsn.js';

export type StreamItem = { kind: 'message'; lsn: string; message: Pgoutput.Message } | { kind: 'keepalive'; lsn: string };

/** Paused above this many waiting items, resumed at or below RESUME_AT. */
const PAUSE_AT = 2_000;
const RESUME_AT = 200;
/**
 * A standby status update at least this often while connected, whatever the
 * socket's state: far inside any wal_sender_timeout (default 60 s), so a commit
 * held back by a slow journal (socket paused, keepalives unread) never times out.
 */
const STATUS_INTERVAL_MS = 1_000;

/** pgoutput, with every column value kept as the server's text (postgres-value.ts maps it). */
class TextPgoutputPlugin extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    const message = super.parse(buffer);
    // The parser caches the relation and reads later tuples with its columns'
    // parsers: replace them now, before the next message is parsed.
    if (message.tag === 'relation') for (const column of message.columns) column.parser = (text: unknown) => text;
    return message;
  }
}

export class ChangeStream {
  private readonly service: LogicalReplicationService;
  private readonly queue: StreamItem[] = [];
  private draining = false;
  private paused = false;
  private confirmed: bigint;
  private statusTimer: NodeJS.Timeout | undefined;
  private failure: ((error: Error) => void) | undefined;
  private idle: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    config: pg.ClientConfig,
    private readonly slot: string,
    private readonly publication: string,
    /** Everything with a commit LSN ≤ this is journaled. */
    committed: bigint,
    private readonly handle: (item: StreamItem) => Promise<void>,
    /** The server accepted START_REPLICATION. */
    onStarted: () => void = () => {},
  ) {
    this.confirmed = committed;
    this.service = new LogicalReplicationService(config, { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } });
    this.service.on('data', (lsn: string, message: Pgoutput.Message) => this.enqueue({ kind: 'message', lsn, message }));
    this.service.on('start', onStarted);
    this.service.on('heartbeat', (lsn: string, _timestamp: number, shouldRespond: boolean) => {
      if (shouldRespond) this.sendStatus();
      this.enqueue({ kind: 'keepalive', lsn });
    });
  }

  /**
   * Streams from after `committed` until stop() or a failure; rejects with the
   * failure (connection lost, server error, a handler that threw).
   */
  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      this.failure = (error) => {
        if (settled) return;
        settled = true;
        if (this.stopped) return resolve(); // stop() was called: its errors are the closing connection's
        this.stopped = true;
        void this.close().finally(() => reject(error));
      };
      this.service.on('error', (error: Error) => this.failure?.(error));
      this.statusTimer = setInterval(() => this.sendStatus(), STATUS_INTERVAL_MS);
      const plugin = new TextPgoutputPlugin({ protoVersion: 1, publicationNames: [this.publication] });
      // The server starts at max(this, the slot's confirmed_flush_lsn).
      this.service.subscribe(plugin, this.slot, formatLsn(this.confirmed + 1n)).then(
        () => this.failure?.(new Error('the server ended the replication stream')),
        (error: Error) => this.failure?.(error),
      );
    });
  }

  /** Everything with a commit LSN ≤ lsn is in the journal: say so to the server (flush = lsn + 1). */
  confirm(lsn: bigint): void {
    if (lsn <= this.confirmed) return;
    this.confirmed = lsn;
    this.sendStatus();
  }

  /** Stops reading, lets the item being handled finish, confirms what is committed, closes. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.pause();
    this.queue.length = 0;
    await this.idle;
    this.sendStatus();
    await this.close();
  }

  private async close(): Promise<void> {
    clearInterval(this.statusTimer);
    await this.service.stop().catch(() => {});
    this.service.removeAllListeners();
  }

  private sendStatus(): void {
    if (this.stopped && this.statusTimer === undefined) return;
    // acknowledge() sends lsn + 1 as written, flushed and applied.
    void this.service.acknowledge(formatLsn(this.confirmed)).catch(() => {});
  }

  private enqueue(item: StreamItem): void {
    if (this.stopped) return;
    this.queue.push(item);
    if (this.queue.length >= PAUSE_AT) this.pause();
    if (!this.draining) this.idle = this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const item = this.queue.shift()!;
        // Resume before handling, so a long commit does not keep the socket paused.
        if (this.paused && this.queue.length <= RESUME_AT && !this.stopped) this.resume();
        await this.handle(item);
      }
    } catch (error) {
      this.failure?.(error as Error);
    } finally {
      this.draining = false;
    }
  }

  private socket(): { pause(): void; resume(): void } | undefined {
    return (this.service as unknown as { _connection?: { stream?: { pause(): void; resume(): void } } })._connection?.stream;
  }

  private pause(): void {
    this.paused = true;
    this.socket()?.pause();
  }

  private resume(): void {
    this.paused = false;
    this.socket()?.resume();
  }
}
