// Which relay processes are running and which of them holds each hospital's
// Replicate stream, for the status page of any process. On SQLite the relay
// is one process and the registry is that process alone, in memory
// (SingleProcessRegistry); on PostgreSQL each process writes a heartbeat row
// and its stream holders (postgres/pg-process-registry.ts), so every
// process's page lists them all.
//
// Stream holders are reconciled at every heartbeat from what the process
// holds now (the `streams` function given to register), so a hop shows on
// the page within one heartbeat without the ingest path writing anything.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** One relay process as the registry knows it: what it said of itself, and its last heartbeat. */
export interface RelayProcess extends ProcessIdentity {
  /** ms since the epoch. */
  heartbeatAtMs: number;
  /** False once its heartbeat is older than the process timeout (it crashed or lost the database). */
  alive: boolean;
}

/** Which process holds a hospital's stream, since when (ms since the epoch). */
export interface StreamHolder {
  hospital: string;
  processId: string;
  heldSinceMs: number;
}

/** What a process says of itself when it registers. */
export interface ProcessIdentity {
  processId: string;
  relayId: string;
  host: string;
  pid: number;
  version: string;
  /** The addresses it listens on (host:port), as bound. */
  grpcListen: string;
  httpListen: string;
  /** ms since the epoch. */
  startedAtMs: number;
}

export interface ProcessRegistry {
  /** This process's id (host, pid and a random suffix: unique even across a pid reused after a restart). */
  readonly processId: string;
  /**
   * Writes this process's row and starts the heartbeat; `streams` says which
   * hospitals' streams the process holds now (read at every heartbeat);
   * `listening` the addresses bound (port 0 resolved), when known.
   */
  register(streams: () => readonly string[], listening?: { grpc: string; http: string }): Promise<void>;
  /** Every known process, newest heartbeat first; those past the timeout have alive=false. */
  processes(): Promise<RelayProcess[]>;
  /** Per hospital the process holding its stream (the most recent holder when a hop left two). */
  streamHolders(): Promise<StreamHolder[]>;
  /** Stops the heartbeat and removes this process's rows (a clean stop is not a crash). */
  close(): Promise<void>;
}

/** A fresh process id: `host:pid:random`. */
export function newProcessId(host: string = hostname(), pid: number = process.pid): string {
  return `${host}:${pid}:${randomBytes(3).toString('hex')}`;
}

/** The identity of this process, for register(). */
export function processIdentity(input: { relayId: string; version: string; grpcListen: string; httpListen: string; startedAtMs: number; processId?: string }): ProcessIdentity {
  const host = hostname();
  return { processId: input.processId ?? newProcessId(host), relayId: input.relayId, host, pid: process.pid, version: input.version, grpcListen: input.grpcListen, httpListen: input.httpListen, startedAtMs: input.startedAtMs };
}

/** The hospitals' newest holders among rows that may hold a hop's two (pure). */
export function newestHolders(rows: readonly StreamHolder[]): StreamHolder[] {
  const newest = new Map<string, StreamHolder>();
  for (const row of rows) {
    const seen = newest.get(row.hospital);
    if (!seen || row.heldSinceMs > seen.heldSinceMs) newest.set(row.hospital, row);
  }
  return [...newest.values()].sort((a, b) => a.hospital.localeCompare(b.hospital));
}

/** The one process of a SQLite relay: what it holds, answered from memory. */
export class SingleProcessRegistry implements ProcessRegistry {
  private streams: () => readonly string[] = () => [];
  private readonly heldSince = new Map<string, number>();

  constructor(
    private identity: ProcessIdentity,
    private readonly now: () => number = Date.now,
  ) {}

  get processId(): string {
    return this.identity.processId;
  }

  async register(streams: () => readonly string[], listening?: { grpc: string; http: string }): Promise<void> {
    this.streams = streams;
    if (listening) this.identity = { ...this.identity, grpcListen: listening.grpc, httpListen: listening.http };
  }

  async processes(): Promise<RelayProcess[]> {
    return [{ ...this.identity, heartbeatAtMs: this.now(), alive: true }];
  }

  async streamHolders(): Promise<StreamHolder[]> {
    const held = new Set(this.streams());
    for (const hospital of this.heldSince.keys()) if (!held.has(hospital)) this.heldSince.delete(hospital);
    for (const hospital of held) if (!this.heldSince.has(hospital)) this.heldSince.set(hospital, this.now());
    return newestHolders([...this.heldSince].map(([hospital, heldSinceMs]) => ({ hospital, processId: this.processId, heldSinceMs })));
  }

  async close(): Promise<void> {
    this.streams = () => [];
  }
}
