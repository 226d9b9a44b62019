// What the composition root hands every change-capture source, and the status
// every kind builds from its CaptureStatus. A capture source never answers a
// sender: its "acknowledgement" is the position it confirms to the server, sent
// only after the events up to it are committed in the journal (CaptureWriter).
import type { CaptureWriter, LocalCopy } from '../../store/index.js';
import type { AdmissionCheck, SourceStatus } from '../source.js';
import type { CaptureStatus } from './capture-status.js';

export interface CaptureLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface CaptureSourceParts {
  /** Appends (and staged appends) resolved only once durable, and the saved position. */
  writer: CaptureWriter;
  /** Consulted before each transaction; a refusal pauses capture (the server keeps the changes). */
  admission?: AdmissionCheck;
  /** The journal's current state per (stream, key): fills values a change stream leaves out (TOASTed columns). */
  localCopy: LocalCopy;
  log: CaptureLogger;
  /** The password read from connection.passwordFile, if any. */
  password?: string;
  /** Milliseconds since the epoch; injected so tests can pin time. */
  clock?: () => number;
}

/** The counts every source reports, for a capture source: rows received and journaled. */
export interface CaptureCounts {
  received: number;
  acknowledged: number;
  rejected: number;
  lastMessageAtMs: number | null;
}

/** A capture source's SourceStatus: the common counts and its CaptureStatus. */
export function captureSourceStatus(name: string, kind: SourceStatus['kind'], counts: CaptureCounts, capture: CaptureStatus): SourceStatus {
  return {
    name,
    kind,
    state: capture.state,
    received: counts.received,
    acknowledged: counts.acknowledged,
    rejected: counts.rejected,
    duplicates: 0,
    lastRejection: null,
    lastMessageAtMs: counts.lastMessageAtMs,
    capture,
  };
}

/** The status of a capture source before it has done anything. */
export function initialCaptureStatus(): CaptureStatus {
  return {
    state: 'starting',
    reason: null,
    position: null,
    schemaVersion: null,
    snapshot: null,
    lagMs: null,
    rowsPerSecond: 0,
    transactions: 0,
    retained: null,
    lastError: null,
  };
}
