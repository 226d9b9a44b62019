// The relay processes sharing one PostgreSQL database: each writes its row in
// relay_processes at start and at every heartbeat, and its stream holders in
// relay_streams; any process's status page reads them all.
//
// Failure modes handled:
//  1. The database is down at a heartbeat: the write fails, is logged once per
//     outage and retried at the next beat; the process keeps serving what it
//     can. Other processes see its heartbeat age and show it as gone after
//     processTimeoutMs — which is true from the database's point of view.
//  2. A process crashes (SIGKILL): nothing removes its rows; it shows as gone
//     once its heartbeat is older than processTimeoutMs, and its rows are
//     deleted by the next process to start or beat after 10 timeouts.
//  3. An agent hops: the old process's row goes at its next beat (its stream
//     ended), the new one's appears at its next beat; in between the page
//     shows the newer holder (newestHolders).
//  4. A clean stop deletes the process's rows (streams cascade), so a rolling
//     restart does not leave ghosts for the timeout.
import type { Logger } from 'pino';
import type { RelayDatabase } from './relay-database.js';
import { newestHolders, type ProcessIdentity, type ProcessRegistry, type RelayProcess, type StreamHolder } from '../process-registry.js';

/** Rows of processes gone this many timeouts are deleted (failure mode 2). */
export const GONE_PROCESS_PURGE_TIMEOUTS = 10;

export interface PgProcessRegistryOptions {
  database: RelayDatabase;
  identity: ProcessIdentity;
  heartbeatMs: number;
  processTimeoutMs: number;
  now?: () => number;
  logger?: Logger;
}

export class PgProcessRegistry implements ProcessRegistry {
  private timer: NodeJS.Timeout | undefined;
  private streams: () => readonly string[] = () => [];
  private readonly heldSince = new Map<string, number>();
  private beating: Promise<void> | null = null;
  private failing = false;
  private closed = false;
  private readonly now: () => number;
  private identity: ProcessIdentity;

  constructor(private readonly options: PgProcessRegistryOptions) {
    this.now = options.now ?? Date.now;
    this.identity = options.identity;
  }

  get processId(): string {
    return this.identity.processId;
  }

  async register(streams: () => readonly string[], listening?: { grpc: string; http: string }): Promise<void> {
    this.streams = streams;
    if (listening) this.identity = { ...this.identity, grpcListen: listening.grpc, httpListen: listening.http };
    await this.beat();
    this.timer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
    this.timer.unref();
  }

  /** One heartbeat now (the timer's, or a test's); never rejects (failure mode 1). */
  heartbeat(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.beating ??= this.beat()
      .then(
        () => {
          if (this.failing) this.options.logger?.info({ processId: this.processId }, 'process heartbeat written again');
          this.failing = false;
        },
        (error: unknown) => {
          if (!this.failing) this.options.logger?.warn({ err: (error as Error).message, processId: this.processId }, 'process heartbeat failed; retried at the next beat');
          this.failing = true;
        },
      )
      .finally(() => (this.beating = null));
    return this.beating;
  }

  async processes(): Promise<RelayProcess[]> {
    const nowMs = this.now();
    const { rows } = await this.options.database.query<ProcessRow>(
      'SELECT process_id, relay_id, host, pid, version, grpc_listen, http_listen, started_at_ms, heartbeat_at_ms FROM relay_processes ORDER BY heartbeat_at_ms DESC, process_id',
    );
    return rows.map((r) => ({
      processId: r.process_id,
      relayId: r.relay_id,
      host: r.host,
      pid: r.pid,
      version: r.version,
      grpcListen: r.grpc_listen,
      httpListen: r.http_listen,
      startedAtMs: r.started_at_ms,
      heartbeatAtMs: r.heartbeat_at_ms,
      alive: nowMs - r.heartbeat_at_ms <= this.options.processTimeoutMs,
    }));
  }

  async streamHolders(): Promise<StreamHolder[]> {
    const since = this.now() - this.options.processTimeoutMs;
    const { rows } = await this.options.database.query<{ hospital: string; process_id: string; held_since_ms: number }>(
      `SELECT s.hospital, s.process_id, s.held_since_ms FROM relay_streams s JOIN relay_processes p USING (process_id) WHERE p.heartbeat_at_ms >= $1`,
      [since],
    );
    return newestHolders(rows.map((r) => ({ hospital: r.hospital, processId: r.process_id, heldSinceMs: r.held_since_ms })));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.beating;
    // Failure mode 4; a database down at stop leaves the row to time out (failure mode 2).
    await this.options.database.query('DELETE FROM relay_processes WHERE process_id = $1', [this.processId]).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    const nowMs = this.now();
    const held = new Set(this.streams());
    for (const hospital of this.heldSince.keys()) if (!held.has(hospital)) this.heldSince.delete(hospital);
    for (const hospital of held) if (!this.heldSince.has(hospital)) this.heldSince.set(hospital, nowMs);
    const id = this.identity;
    const hospitals = [...this.heldSince.keys()];
    await this.options.database.transaction(async (client) => {
      await client.query(
        `INSERT INTO relay_processes (process_id, relay_id, host, pid, version, grpc_listen, http_listen, started_at_ms, heartbeat_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (process_id) DO UPDATE SET heartbeat_at_ms = EXCLUDED.heartbeat_at_ms, grpc_listen = EXCLUDED.grpc_listen, http_listen = EXCLUDED.http_listen`,
        [id.processId, id.relayId, id.host, id.pid, id.version, id.grpcListen, id.httpListen, id.startedAtMs, nowMs],
      );
      await client.query('DELETE FROM relay_streams WHERE process_id = $1 AND NOT (hospital = ANY($2::text[]))', [id.processId, hospitals]);
      await client.query(
        `INSERT INTO relay_streams (hospital, process_id, held_since_ms) SELECT h, $1, s FROM unnest($2::text[], $3::bigint[]) AS t(h, s)
         ON CONFLICT (hospital, process_id) DO NOTHING`,
        [id.processId, hospitals, hospitals.map((h) => this.heldSince.get(h)!)],
      );
      // Failure mode 2: long-gone processes' rows (their streams cascade).
      await client.query('DELETE FROM relay_processes WHERE heartbeat_at_ms < $1', [nowMs - GONE_PROCESS_PURGE_TIMEOUTS * this.options.processTimeoutMs]);
    });
  }
}

interface ProcessRow {
  process_id: string;
  relay_id: string;
  host: string;
  pid: number;
  version: string;
  grpc_listen: string;
  http_listen: string;
  started_at_ms: number;
  heartbeat_at_ms: number;
}
