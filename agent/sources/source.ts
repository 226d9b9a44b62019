// The Source port: every kind of input (MLLP, HTTP ingest, database change
// capture, DICOM) is started and stopped by the composition root, is
// handed the JournalWriter it appends through and the AdmissionCheck it consults,
// and reports one SourceStatus for /v1/status, the dashboard and the alerts.
//
// The contract every kind keeps (test/contract/source.contract.ts):
//  1. A positive answer (HL7 AA, HTTP 200) only once JournalWriter.append has
//     resolved, i.e. the input is durable; a writer that throws gets a refusal the
//     sender retries (AR, 5xx), never a positive answer.
//  2. The AdmissionCheck is consulted for every input; a refusal is answered
//     (AR, 507) with its reason and nothing is appended.
//  3. status() counts what was received, acknowledged and rejected, and names the
//     last rejection; it never throws and may be called in any state.
import type { RejectionKind } from './rejection-kind.js';
import type { ControlIdReuse } from './mllp/index.js';
import type { JournalWriter } from '../store/index.js';
import type { CaptureStatus } from './database/index.js';

/**
 * Decides whether new input is accepted right now. Returns undefined to accept,
 * or the reason for refusing (the source answers HL7 AR / HTTP 507 or 503 with it).
 */
export type AdmissionCheck = (source: string) => string | undefined;

/** The kinds of source the agent has. */
export type SourceKind = 'mllp' | 'http' | 'postgres' | 'mysql' | 'sql-poll' | 'dicom';

/** One source as GET /v1/status serves it (the shape is part of the HTTP API). */
export interface SourceStatus {
  name: string;
  kind: SourceKind;
  state: string;
  listen?: string;
  received: number;
  acknowledged: number;
  rejected: number;
  duplicates: number;
  /** `kind` is a stable code the dashboard translates (rejection-kind.ts); `reason` the source's own text. */
  lastRejection: { atMs: number; reason: string; kind: RejectionKind } | null;
  lastMessageAtMs: number | null;
  /** Silent longer than this raises an alert (alerts.quietPeriods), in seconds; null when the source has none. */
  quietPeriodSeconds?: number | null;
  /** MLLP: senders that reused a control id with other content, newest first (the control-id-reused alert). */
  controlIdReuse?: ControlIdReuse[];
  /** MLLP: messages journaled although their control id was held with other content. */
  controlIdsReused?: number;
  /** MLLP: connections closed for maxConnections or maxBufferedBytes. */
  connectionsRefused?: number;
  /** Database sources (postgres, mysql, sql-poll): where capture is, its lag, rate and what the server retains. */
  capture?: CaptureStatus;
  /** DICOM: the AE title served, associations open now and refused so far, C-STOREs being archived and journaled. */
  dicom?: { aeTitle: string; associationsOpen: number; associationsRefused: number; storesInFlight: number };
}

/** Where a source listens once started. */
export interface SourceAddress {
  host: string;
  port: number;
}

/** What every source is handed by the composition root. */
export interface SourceParts {
  /** Appends, resolved only once the events are durable. */
  writer: JournalWriter;
  /** Consulted for every input; absent = always accept. */
  admission?: AdmissionCheck;
}

/** An input of the agent: it owns its listener (or shares one, see start()), its counters and its status. */
export interface Source {
  /** Recorded on every event and passed to the admission check, e.g. "lis-mllp", "http". */
  readonly name: string;
  readonly kind: SourceKind;
  /**
   * Starts taking input; resolves with the bound address (the real port when 0 was
   * asked), or null for a source that shares a listener it does not own (HTTP
   * ingest rides on the agent's HTTP port). Rejects when the address cannot be bound.
   */
  start(): Promise<SourceAddress | null>;
  /** Stops taking input; what was received is committed and answered first. Idempotent. */
  stop(): Promise<void>;
  status(): SourceStatus;
}
