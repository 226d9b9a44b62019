// The port every delivery into a hospital system plugs into: HL7 v2 over MLLP,
// a signed webhook, an inbox table in the HIS's database. One contract suite
// (test/contract/inbound-sink.contract.ts) runs against each.

/** One attempt to deliver one inbound event. */
export interface SinkDelivery {
  id: string;
  channel: string;
  /** The ordering key (the patient). */
  key: string;
  /** "json" or "hl7v2". */
  contentType: string;
  body: Buffer;
  vendor: string;
  receivedAtMs: number;
  expiresAtMs: number;
  /** 1 for the first attempt. */
  attempt: number;
}

/**
 * What the hospital's system made of an attempt, classified, never guessed:
 * - accepted: it applied the event (HL7 AA, HTTP 2xx, inbox status applied);
 * - refused: it will not, for a reason of its own (AR, 4xx, status rejected): final, never retried;
 * - retryable: try again later (AE, 5xx, a timeout); `sinkDown` when the system could not
 *   be reached at all (connection refused, reset before an answer): that says nothing
 *   about this event, so it does not count towards its quarantine;
 * - unmappable: the event cannot be turned into what the system takes (a mapping
 *   that does not fit the body): the agent quarantines it, nothing was sent;
 * - awaiting: handed over, the system decides later (an inbox table row): settle() tells.
 */
export type SinkOutcome =
  | { kind: 'accepted'; code: string; reason?: string; reference?: string }
  | { kind: 'refused'; code: string; reason: string }
  | { kind: 'retryable'; code: string; reason: string; sinkDown: boolean }
  | { kind: 'unmappable'; reason: string }
  | { kind: 'awaiting'; code: string };

export interface InboundSink {
  readonly kind: 'mllp' | 'webhook' | 'inbox';
  /**
   * Delivers one event. Resolves with the outcome; never rejects for the system's
   * answer or its absence (only for a bug). A redelivery carries the same id (MSH-10,
   * webhook-id, the inbox primary key), so the system takes it in once; a sink that
   * answers `awaiting` answers a redelivery of an id already decided with that decision.
   */
  deliver(delivery: SinkDelivery): Promise<SinkOutcome>;
  /**
   * For events answered `awaiting`: what the system has decided since, by id
   * (an id still undecided is absent; only accepted and refused are reported).
   * Only sinks that answer `awaiting` have it. Rejects with SinkUnavailableError
   * (WL_A048) when the system cannot be reached, SinkSetupError (WL_A047) when it
   * refuses Wardline's setup: ask again at the next round.
   */
  settle?(ids: readonly string[]): Promise<Map<string, SinkOutcome>>;
  /**
   * An `awaiting` event's TTL passed: take it back if the system has not picked it
   * up. Resolves true when withdrawn (the receipt is then expired; also when it was
   * withdrawn before or never handed over), false when the system already decided
   * (settle tells what). Idempotent; rejects as settle does.
   */
  withdraw?(id: string): Promise<boolean>;
  /** Closes connections and pools; deliver is not called after. */
  close(): Promise<void>;
}
