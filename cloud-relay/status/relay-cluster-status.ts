// The part of the status document that says which relay processes serve this
// relay's database: where the state is kept and whether it is reachable now,
// every process alive (or gone) with its last heartbeat, which process holds
// each hospital's stream, and how this process's live tail hears of the
// others' commits. Built from snapshots by a pure function.
import type { DoorbellFigures } from '../store/postgres/index.js';
import type { RelayProcess, StreamHolder } from '../store/index.js';

export interface RelayClusterInput {
  nowMs: number;
  /** This process's id. */
  processId: string;
  store: { kind: 'sqlite' | 'postgres'; database: string | null; unreachable: { since: number; error: string } | null };
  processes: readonly RelayProcess[];
  streams: readonly StreamHolder[];
  liveTail: DoorbellFigures | null;
}

export interface RelayClusterStatus {
  /** The process that answered. */
  thisProcess: string;
  store: {
    kind: 'sqlite' | 'postgres';
    /** The PostgreSQL URL without its password; null on SQLite. */
    database: string | null;
    reachable: boolean;
    unreachableSince: string | null;
    error: string | null;
  };
  processes: {
    processId: string;
    relayId: string;
    host: string;
    pid: number;
    version: string;
    grpcListen: string;
    httpListen: string;
    startedAt: string;
    lastHeartbeatAt: string;
    heartbeatAgeSeconds: number;
    alive: boolean;
  }[];
  /** Per hospital whose agent is connected, the process holding its stream. */
  streams: { hospital: string; processId: string; heldSince: string }[];
  /** The cross-process live tail (PostgreSQL): its LISTEN state and counters since start; null on SQLite. */
  liveTail: DoorbellFigures | null;
}

export function buildRelayClusterStatus(input: RelayClusterInput): RelayClusterStatus {
  return {
    thisProcess: input.processId,
    store: {
      kind: input.store.kind,
      database: input.store.database,
      reachable: input.store.unreachable === null,
      unreachableSince: input.store.unreachable ? iso(input.store.unreachable.since) : null,
      error: input.store.unreachable?.error ?? null,
    },
    processes: input.processes.map((p) => ({
      processId: p.processId,
      relayId: p.relayId,
      host: p.host,
      pid: p.pid,
      version: p.version,
      grpcListen: p.grpcListen,
      httpListen: p.httpListen,
      startedAt: iso(p.startedAtMs),
      lastHeartbeatAt: iso(p.heartbeatAtMs),
      heartbeatAgeSeconds: Math.max(0, Math.round((input.nowMs - p.heartbeatAtMs) / 100) / 10),
      alive: p.alive,
    })),
    streams: input.streams.map((s) => ({ hospital: s.hospital, processId: s.processId, heldSince: iso(s.heldSinceMs) })),
    liveTail: input.liveTail,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
