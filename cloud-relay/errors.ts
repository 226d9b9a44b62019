// Errors raised inside the cloud relay. Each carries a stable code (shared codes
// from protocol/errors.ts where one exists) and the fields that decide what
// happens next. Nothing here knows about gRPC or HTTP status: the services
// convert at their boundary (grpc-status.ts, feeds/feed-http.ts).
import { CodedError, ErrorCode } from '../protocol/index.js';
import { schemaTooNewMessage } from '../runtime/index.js';

/**
 * Codes only the relay uses (HTTP feed API and relay internals). They share the
 * `WL_` namespace with protocol ErrorCode so vendor logs can match them.
 */
export const RelayErrorCode = {
  /** The vendor's key is granted the feed at more than one hospital: pass `hospital` (HTTP) or `hospital_id` (gRPC). */
  HOSPITAL_REQUIRED: 'WL_HOSPITAL_REQUIRED',
  /** A request parameter is malformed; the message names it. Fix the client request. */
  BAD_REQUEST: 'WL_BAD_REQUEST',
  /** No such HTTP route. Check the URL against the relay's API. */
  NOT_FOUND: 'WL_NOT_FOUND',
  /** The HTTP method is not supported on this route (the API is read-only: GET). */
  METHOD_NOT_ALLOWED: 'WL_METHOD_NOT_ALLOWED',
  /** The relay is shutting down; reconnect (to another relay node if there is one). */
  SHUTTING_DOWN: 'WL_SHUTTING_DOWN',
  /** An unexpected relay fault (for example the disk is full). Nothing was acknowledged; see the relay log. */
  INTERNAL: 'WL_INTERNAL',
  /**
   * The agent's client certificate names another hospital than its Hello (or none).
   * Install the certificate issued for this hospital (relays[].tls.certFile) or correct hospital.id.
   */
  CERTIFICATE_MISMATCH: 'WL_CERTIFICATE_MISMATCH',
  /**
   * The hospital revoked the feed: it is not served, and its events are erased from the relay's database
   * (deleted and overwritten). Copies made before the revoke are outside the relay's reach. Ask the hospital.
   */
  FEED_REVOKED: 'WL_FEED_REVOKED',
  /**
   * A Replicate stream sent no valid Hello within grpc.helloTimeoutMs and was closed.
   * An agent reconnects by itself; if it keeps happening, the line is too slow for the deadline: raise it.
   */
  HELLO_TIMEOUT: 'WL_HELLO_TIMEOUT',
  /**
   * Too many Replicate streams from one address have not said Hello yet
   * (grpc.maxUnauthenticatedStreamsPerPeer); this one was refused. Behind a proxy
   * that hides agent addresses, raise the cap.
   */
  TOO_MANY_UNAUTHENTICATED: 'WL_TOO_MANY_UNAUTHENTICATED',
  /**
   * The vendor key is valid but not granted this feed (at this hospital). Ask the
   * hospital to add the grant (vendors[].grants in the relay config); the key itself is fine.
   */
  FEED_NOT_GRANTED: 'WL_FEED_NOT_GRANTED',
  /**
   * The vendor key already holds as many concurrent page reads or follow
   * subscriptions as the relay allows (feedLimits). Finish or cancel one and
   * retry after the Retry-After delay; reuse one follow subscription per feed.
   */
  TOO_MANY_REQUESTS: 'WL_TOO_MANY_REQUESTS',
  /**
   * The operator endpoints (/, /v1/status in full, /metrics) need the operator
   * token: send "Authorization: Bearer <token>" (or HTTP Basic with the token as
   * password). Set http.operatorTokenFile or http.operatorTokenSha256 to enable them.
   */
  OPERATOR_AUTH_REQUIRED: 'WL_OPERATOR_AUTH_REQUIRED',
  /**
   * The vendor read nothing of a response for feedLimits.stalledResponseMs, so the
   * relay cut it. Read the stream as it arrives (or buffer it on your side), then
   * re-read from your cursor.
   */
  STALLED_RESPONSE: 'WL_STALLED_RESPONSE',
  /**
   * A batch's range runs past both its last event and the journal head its agent
   * announced: storing it would move the feed's mark ahead of the agent, and the
   * agent's later events would be dropped as duplicates. Nothing was stored. An
   * agent never sends such a batch; find who holds the hospital's credentials
   * (rotate its secret or certificate), and check the agent's version.
   */
  BATCH_BEYOND_HEAD: 'WL_BATCH_BEYOND_HEAD',
  /**
   * The relay could not bind a port it is configured to listen on (grpc.listen or http.listen): taken by another
   * process, not permitted, or an address this machine does not have; the message names the key, the address and
   * the config file. Free the port or change the key, then start again.
   */
  LISTEN_FAILED: 'WL_LISTEN_FAILED',
  /**
   * The feed names no complete imaging instance there (study, series or SOP instance) up to
   * what vendors may read of it: the blob-ref event has not arrived, or is not visible yet.
   * Read the feed's events for what arrived (each blob-ref event names its study, series and
   * instance) and ask again once its event is in the feed.
   */
  IMAGING_NOT_FOUND: 'WL_IMAGING_NOT_FOUND',
  /**
   * No signed tree head covers the event asked for (GET /v1/feeds/{feed}/events/{seq}/proof): its window is
   * not closed and verified yet (windows close every 10,000 seqs or every hour), or the relay holds no event
   * at that seq. Ask again later, or list the feed's tree heads (GET /v1/feeds/{feed}/tree-heads).
   */
  PROOF_NOT_FOUND: 'WL_PROOF_NOT_FOUND',
  /**
   * The cursor (`after`, a consumer's commit) is past the feed's high-water mark: no event up to it exists yet, so
   * the relay cannot say what the vendor has seen. The answer carries the head (`highWater`). A cursor kept from
   * another feed, hospital or relay usually causes it: resume from a cursor this feed gave you, or from the head.
   */
  CURSOR_AHEAD: 'WL_CURSOR_AHEAD',
  /**
   * The cursor is below what the relay's retention keeps for the feed (retention in the relay config): events after
   * it were removed, so reading on would skip them silently. The answer carries `retentionFloorSeq` (resume after it
   * to accept the loss) and `oldestSeq` (the oldest event still held). Ask the hospital for an export if you need
   * the removed events.
   */
  CURSOR_BELOW_RETENTION: 'WL_CURSOR_BELOW_RETENTION',
  /** No consumer of that name was ever committed for this vendor key and feed. Commit a cursor first (PUT …/consumers/{name}, Feeds.Commit). */
  CONSUMER_NOT_FOUND: 'WL_CONSUMER_NOT_FOUND',
  /**
   * The relay's PostgreSQL database (store.url) cannot be reached or refused the connection; the message names the
   * database without its password. Nothing was acknowledged while it is down: agents resend, vendors retry. Check
   * that the server runs and accepts this relay's connections (pg_hba.conf, max_connections), then wait: the relay
   * reconnects by itself and /readyz turns true again.
   */
  STORE_UNAVAILABLE: 'WL_STORE_UNAVAILABLE',
  /**
   * This relay process's signing key (relay-signing.key in its dataDir) is not the one the other processes on the
   * same PostgreSQL database sign with, so exports, purge receipts and tree heads would verify against two keys.
   * The process did not start. Copy relay-signing.key and relay-signing.pub from a running process's dataDir into
   * this one's (mode 0600), then start it again.
   */
  SIGNING_KEY_MISMATCH: 'WL_SIGNING_KEY_MISMATCH',
  // --- Receipts of inbound events (cloud-relay/ingest/inbound-handler.ts), in ReceiptAck.error ---
  /**
   * The agent sent a receipt for an inbound event this relay does not hold for the hospital, or never sent it
   * (deleted after inbound.retainFinalFor, or the agent's outbox holds a receipt of another relay). Nothing was
   * stored. The agent drops it; if it recurs, compare the agent's relay for the channel with this relay's id.
   */
  RECEIPT_UNKNOWN: 'WL_RECEIPT_UNKNOWN',
  /**
   * The event already has a final receipt with another outcome; the first one stands and this one was not stored.
   * An operator's replay after a final outcome cannot change it: the vendor has been told. See the agent's log for the event.
   */
  RECEIPT_CONFLICT: 'WL_RECEIPT_CONFLICT',
  /**
   * A receipt that is not well formed (its id is no inbound id, its outcome unknown, or final disagrees with the
   * outcome). Nothing was stored. An agent never sends one: check the agent's version.
   */
  RECEIPT_INVALID: 'WL_RECEIPT_INVALID',
  // --- Purge (cloud-relay/exit/feed-purge.ts) ---
  /**
   * A purge names a hospital this relay holds nothing of (no feed, revocation, purge
   * receipt or ledger head). Nothing was deleted. Check the hospital id (`wardline relay
   * status` lists the hospitals and their feeds).
   */
  PURGE_UNKNOWN_HOSPITAL: 'WL_PURGE_UNKNOWN_HOSPITAL',
  /**
   * A purge names a feed this relay holds nothing of for the hospital. Nothing was
   * deleted. The message lists the feeds it holds; check the feed name.
   */
  PURGE_UNKNOWN_FEED: 'WL_PURGE_UNKNOWN_FEED',
  /**
   * This relay has no signing key, so it cannot sign a purge receipt; nothing was
   * deleted. Start the relay normally (it makes <dataDir>/relay-signing.key at start).
   */
  PURGE_UNSIGNED: 'WL_PURGE_UNSIGNED',
  /** A purge request is malformed (the message says what); nothing was deleted. */
  PURGE_BAD_REQUEST: 'WL_PURGE_BAD_REQUEST',
  // Export (cloud-relay/exit): `wardline relay export` and the Export RPC.
  /** The hospital is not in hospitals[] of the relay config. Check --hospital against the config (ids are case-sensitive). */
  EXPORT_UNKNOWN_HOSPITAL: 'WL_EXPORT_UNKNOWN_HOSPITAL',
  /** The relay holds no such feed for the hospital (the message lists those it holds). Check --feed; a revoked feed has nothing left to export. */
  EXPORT_UNKNOWN_FEED: 'WL_EXPORT_UNKNOWN_FEED',
  /** The export's directory exists and is not empty (or is not a directory). Name a new or empty directory: an export never mixes with other files. */
  EXPORT_OUT_DIR: 'WL_EXPORT_OUT_DIR',
  /**
   * An imaging instance a stored event names cannot be read whole, or a chunk does not match its SHA-256: the relay's
   * blob files are damaged or were removed by hand. Nothing was exported; restore the relay's blobs/ from its backup.
   */
  EXPORT_BLOB_DAMAGED: 'WL_EXPORT_BLOB_DAMAGED',
  /** There is no relay database in dataDir (the relay never started with this config). Check -c and dataDir. */
  EXPORT_NO_DATABASE: 'WL_EXPORT_NO_DATABASE',
  // Inbound (cloud-relay/inbound, cloud-relay/http/inbound-routes.ts): vendors writing events to a hospital.
  /**
   * The vendor key is valid but not granted writes to this inbound channel at this hospital. Ask the hospital's
   * relay operator to add the channel to the vendor's grant (vendors[].grants[].inbound in the relay config).
   */
  INBOUND_NOT_GRANTED: 'WL_INBOUND_NOT_GRANTED',
  /**
   * The hospital's agent never declared this inbound channel (agent.yaml inbound[] with this relay), so nothing could
   * deliver it. Check the channel name with the hospital; events are taken once its agent has connected with it.
   */
  INBOUND_UNKNOWN_CHANNEL: 'WL_INBOUND_UNKNOWN_CHANNEL',
  /**
   * The write has no Idempotency-Key header (or one longer than 200 characters). Send a key that names this event
   * uniquely on your side (a UUID or your own record id): a retry with the same key and body is answered, not stored twice.
   */
  INBOUND_IDEMPOTENCY_KEY: 'WL_INBOUND_IDEMPOTENCY_KEY',
  /**
   * This Idempotency-Key was already used for another body on this channel. Nothing was stored. Use a new key for a
   * new event; a retry must resend exactly the same bytes.
   */
  INBOUND_KEY_CONFLICT: 'WL_INBOUND_KEY_CONFLICT',
  /**
   * The body is larger than the channel takes (its maxBodyBytes, capped by the relay's inbound.maxBodyBytes).
   * Nothing was stored. Send a smaller body; the message gives the limit.
   */
  INBOUND_TOO_LARGE: 'WL_INBOUND_TOO_LARGE',
  /**
   * The Content-Type is not one the channel takes (application/json, or x-application/hl7-v2+er7 with the ordering
   * key in Wardline-Key). Send a kind the channel declares; the message lists them.
   */
  INBOUND_CONTENT_TYPE: 'WL_INBOUND_CONTENT_TYPE',
  /**
   * The body does not fit the channel's declaration: not JSON, a required field missing or of another type, no
   * ordering key, or a Wardline-TTL-Ms above the channel's maximum. The message names the field. Nothing was stored.
   */
  INBOUND_UNFIT: 'WL_INBOUND_UNFIT',
  /**
   * No inbound event with this id that this vendor wrote at this hospital (another vendor's events are not shown,
   * and finished events are deleted after inbound.retainFinalFor). Check the id the write returned.
   */
  INBOUND_NOT_FOUND: 'WL_INBOUND_NOT_FOUND',
  /** The relay's inbound store is closed (the relay is stopping). Retry the request; a retry with the same Idempotency-Key is safe. */
  INBOUND_STORE_CLOSED: 'WL_INBOUND_STORE_CLOSED',
  // Store migration (cloud-relay/store/postgres/store-migration.ts): `wardline relay migrate-store`.
  /**
   * relay.db is open in another process: the relay (or another command on its data dir) is running. Nothing was
   * copied. Stop the relay (systemctl stop wardline-relay, or end its process) and run the migration again.
   */
  MIGRATE_RELAY_RUNNING: 'WL_MIGRATE_RELAY_RUNNING',
  /** There is no relay.db in the config's dataDir: nothing to migrate. Check -c and dataDir (the relay on SQLite keeps <dataDir>/relay.db). */
  MIGRATE_NO_DATABASE: 'WL_MIGRATE_NO_DATABASE',
  /**
   * The PostgreSQL database already holds relay data (the message names the first table with rows). Nothing was
   * copied. Migrate into a new, empty database (CREATE DATABASE …), or drop this one if it holds nothing you need.
   */
  MIGRATE_TARGET_NOT_EMPTY: 'WL_MIGRATE_TARGET_NOT_EMPTY',
  /**
   * A table or column of relay.db has no counterpart in the PostgreSQL schema of this build (the message names it),
   * or a PostgreSQL-only column needs a value the copy cannot give. Nothing was copied. Run the migration with the
   * same Wardline version as the relay that wrote relay.db.
   */
  MIGRATE_SCHEMA_MISMATCH: 'WL_MIGRATE_SCHEMA_MISMATCH',
  /**
   * An imaging chunk relay.db lists is missing from <dataDir>/blobs or does not match its SHA-256. Nothing was
   * committed. Restore the relay's blobs/ folder from its backup, then run the migration again.
   */
  MIGRATE_CHUNK_DAMAGED: 'WL_MIGRATE_CHUNK_DAMAGED',
  /**
   * The digest of the PostgreSQL copy differs from relay.db's (the message names the tables). Do not start the relay
   * on PostgreSQL: keep running it on relay.db, drop the PostgreSQL database and run the migration again; if it
   * recurs, report it with both digests.
   */
  MIGRATE_DIGEST_MISMATCH: 'WL_MIGRATE_DIGEST_MISMATCH',
  // --- Sinks (cloud-relay/sinks): the relay publishing feeds into a vendor's message system ---
  /**
   * The sink cannot reach its NATS servers, or JetStream did not answer a publish in time. Nothing is lost: the
   * sink resumes from its durable cursor once NATS answers. Check sinks[].servers, the network and the NATS server.
   */
  SINK_UNAVAILABLE: 'WL_SINK_UNAVAILABLE',
  /**
   * JetStream refused the sink's publish for a reason a retry does not fix: no stream holds the subject
   * (sinks[].stream must capture "<subjectPrefix>.>"), the stream is full with discard new, or the credentials
   * lack permission. The feed's sink waits and retries; fix the stream or the permissions.
   */
  SINK_REFUSED: 'WL_SINK_REFUSED',
  /**
   * The last message on a feed's subject was not published by this sink (no Nats-Msg-Id of the feed), so the sink
   * cannot tell what the stream holds and publishes nothing to it. Keep the subjects under sinks[].subjectPrefix
   * for the relay alone, or give the sink another prefix.
   */
  SINK_FOREIGN_MESSAGE: 'WL_SINK_FOREIGN_MESSAGE',
} as const;
export type RelayErrorCode = (typeof RelayErrorCode)[keyof typeof RelayErrorCode];

/** Base class: every relay error carries a stable code. */
export class RelayError extends CodedError<ErrorCode | RelayErrorCode> {
  override name = 'RelayError';
}

/** The agent's hospital id is unknown or its secret is wrong. */
export class AgentAuthError extends RelayError {
  override name = 'AgentAuthError';
  constructor(
    message: string,
    readonly hospitalId: string,
    /** Why, for the relay's own log only (the agent is told less, so ids cannot be probed). */
    readonly reason: 'unknown-hospital' | 'wrong-secret' | 'no-certificate',
  ) {
    super(message, ErrorCode.BAD_AGENT_CREDENTIALS);
  }
}

/** The agent's verified client certificate names another hospital than its Hello, or none (gRPC PERMISSION_DENIED). */
export class CertificateIdentityError extends RelayError {
  override name = 'CertificateIdentityError';
  constructor(
    message: string,
    /** The hospital_id the Hello claimed. */
    readonly hospitalId: string,
    /** The hospital the certificate names; undefined when it names none. */
    readonly certificateHospitalId: string | undefined,
  ) {
    super(message, RelayErrorCode.CERTIFICATE_MISMATCH);
  }
}

/** The agent speaks a protocol version this relay does not. */
export class ProtocolVersionError extends RelayError {
  override name = 'ProtocolVersionError';
  constructor(
    readonly agentVersion: number,
    readonly relayVersion: number,
    readonly relayMinVersion: number = relayVersion,
  ) {
    super(
      `agent speaks replication protocol ${agentVersion || '0 (unset)'} but this relay speaks ${relayMinVersion === relayVersion ? relayVersion : `${relayMinVersion} to ${relayVersion}`}; upgrade the older side`,
      ErrorCode.PROTOCOL_VERSION,
    );
  }
}

/** A stream message arrived that the protocol does not allow here (a batch before Hello, a second Hello). */
export class ProtocolViolationError extends RelayError {
  override name = 'ProtocolViolationError';
  constructor(message: string) {
    super(message, ErrorCode.PROTOCOL_VIOLATION);
  }
}

/** A batch names a feed the agent did not declare in Hello. */
export class UnknownFeedError extends RelayError {
  override name = 'UnknownFeedError';
  constructor(readonly feed: string, declared: readonly string[]) {
    super(
      `batch for feed "${feed}", which this stream's Hello did not declare (declared: ${declared.length ? declared.join(', ') : 'none'})`,
      ErrorCode.UNKNOWN_FEED,
    );
  }
}

/** A batch payload exceeds the relay's maxBatchBytes. */
export class BatchTooLargeError extends RelayError {
  override name = 'BatchTooLargeError';
  constructor(
    readonly feed: string,
    readonly payloadBytes: number,
    readonly limitBytes: number,
  ) {
    super(
      `batch for feed "${feed}" carries ${payloadBytes} payload bytes; this relay accepts at most ${limitBytes} (lower replication.batchMaxBytes on the agent)`,
      ErrorCode.BATCH_TOO_LARGE,
    );
  }
}

/**
 * A batch failed to verify or decode, or its range is malformed; or (code
 * BATCH_INFLATION, gRPC RESOURCE_EXHAUSTED) its payload inflates past what an
 * agent sends, and inflation was stopped at the limit. Nothing of it was stored.
 */
export class BadBatchError extends RelayError {
  override name = 'BadBatchError';
  constructor(
    message: string,
    readonly feed: string,
    options?: { cause?: unknown; code?: typeof ErrorCode.BAD_BATCH | typeof ErrorCode.BATCH_INFLATION },
  ) {
    super(message, options?.code ?? ErrorCode.BAD_BATCH, options);
  }
}

/** A batch claims journal positions nothing justifies (batch-decision.ts, case 6). Nothing of it was stored. */
export class BatchBeyondHeadError extends RelayError {
  override name = 'BatchBeyondHeadError';
  constructor(
    readonly feed: string,
    readonly firstSeq: number,
    readonly lastSeq: number,
    readonly ceilingSeq: number,
  ) {
    super(
      `batch [${firstSeq}, ${lastSeq}] of feed "${feed}" refused: its range runs past ${ceilingSeq}, the furthest its events and the agent's announced journal head justify; nothing was stored and the feed's high-water mark is unchanged`,
      RelayErrorCode.BATCH_BEYOND_HEAD,
    );
  }
}

/** The vendor key is missing or unknown (HTTP 401). */
export class VendorAuthError extends RelayError {
  override name = 'VendorAuthError';
  constructor(message: string) {
    super(message, ErrorCode.BAD_VENDOR_KEY);
  }
}

/** The vendor is known but not granted this feed (at this hospital) (HTTP 403). */
export class FeedNotGrantedError extends RelayError {
  override name = 'FeedNotGrantedError';
  constructor(
    message: string,
    readonly vendor: string,
    readonly feed: string,
  ) {
    // Its own code, not the unknown key's: the vendor's key works, the hospital's grant is missing.
    super(message, RelayErrorCode.FEED_NOT_GRANTED);
  }
}

/** Which per-key bound a request hit: concurrent page reads, or open follow subscriptions. */
export type VendorSlotKind = 'read' | 'follow';

/** The vendor key is at its bound of concurrent reads or follow subscriptions (HTTP 429, gRPC RESOURCE_EXHAUSTED). */
export class TooManyRequestsError extends RelayError {
  override name = 'TooManyRequestsError';
  constructor(
    readonly vendor: string,
    readonly kind: VendorSlotKind,
    readonly limit: number,
    /** What to send as Retry-After, in seconds. */
    readonly retryAfterSeconds: number,
  ) {
    super(
      kind === 'read'
        ? `vendor "${vendor}" already has ${limit} feed reads in progress (feedLimits.concurrentReadsPerKey); finish one, then retry in ${retryAfterSeconds} s`
        : `vendor "${vendor}" already holds ${limit} follow subscriptions (feedLimits.followSubscriptionsPerKey); cancel one or reuse one per feed, then retry in ${retryAfterSeconds} s`,
      RelayErrorCode.TOO_MANY_REQUESTS,
    );
  }
}

/** The peer read nothing of a response for `stallMs` (gRPC UNAVAILABLE: reconnect from the cursor; HTTP: the response is cut). */
export class StalledResponseError extends RelayError {
  override name = 'StalledResponseError';
  constructor(readonly stallMs: number) {
    super(`the relay cut this response: nothing of it was read for ${stallMs} ms (feedLimits.stalledResponseMs); re-read from your cursor`, RelayErrorCode.STALLED_RESPONSE);
  }
}

/** An operator endpoint was asked for without the operator token (HTTP 401). */
export class OperatorAuthError extends RelayError {
  override name = 'OperatorAuthError';
  constructor(message: string) {
    super(message, RelayErrorCode.OPERATOR_AUTH_REQUIRED);
  }
}

/** The vendor's grant is ambiguous: the feed is granted at several hospitals and none was named (HTTP 400). */
export class HospitalRequiredError extends RelayError {
  override name = 'HospitalRequiredError';
  constructor(
    readonly feed: string,
    readonly hospitals: readonly string[],
  ) {
    super(
      `feed "${feed}" is granted to this key at more than one hospital (${hospitals.join(', ')}); pass hospital=<id> (HTTP) or hospital_id (gRPC) to choose one`,
      RelayErrorCode.HOSPITAL_REQUIRED,
    );
  }
}

/** A request parameter is malformed (HTTP 400); `parameter` names it. */
export class BadRequestError extends RelayError {
  override name = 'BadRequestError';
  constructor(
    message: string,
    readonly parameter?: string,
  ) {
    super(message, RelayErrorCode.BAD_REQUEST);
  }
}

/** Where a feed stands, told to a vendor whose cursor was refused: the head, the retention floor and the oldest event held. */
export interface FeedRange {
  highWater: number;
  /** The seq of the newest event retention removed (0 = none). */
  retentionFloorSeq: number;
  /** The seq of the oldest event held; undefined for a feed holding none. */
  oldestSeq: number | undefined;
}

/**
 * A cursor outside what the feed can serve (HTTP 409, gRPC OUT_OF_RANGE): past the head
 * (WL_CURSOR_AHEAD) or below the retention floor (WL_CURSOR_BELOW_RETENTION).
 */
export class CursorOutOfRangeError extends RelayError {
  override name = 'CursorOutOfRangeError';
  constructor(
    readonly parameter: string,
    readonly cursor: number,
    readonly range: FeedRange,
  ) {
    const ahead = cursor > range.highWater;
    super(
      ahead
        ? `${parameter}: ${cursor} is past the feed's high-water mark ${range.highWater}; resume from a cursor this feed gave you (at most ${range.highWater})`
        : `${parameter}: ${cursor} is below the relay's retention floor ${range.retentionFloorSeq}: events after it were removed; resume after ${range.retentionFloorSeq} to accept that, or ask the hospital for an export`,
      ahead ? RelayErrorCode.CURSOR_AHEAD : RelayErrorCode.CURSOR_BELOW_RETENTION,
    );
  }
}

/** GetConsumer / GET …/consumers/{name} for a name never committed (HTTP 404, gRPC NOT_FOUND). */
export class ConsumerNotFoundError extends RelayError {
  override name = 'ConsumerNotFoundError';
  constructor(readonly consumer: string) {
    super(`consumer ${JSON.stringify(consumer)}: never committed for this key and feed; commit a cursor first`, RelayErrorCode.CONSUMER_NOT_FOUND);
  }
}

/** No such HTTP route (HTTP 404). */
export class RouteNotFoundError extends RelayError {
  override name = 'RouteNotFoundError';
  constructor(readonly path: string) {
    super(`no route for ${JSON.stringify(path)}; see GET /v1/feeds/{feed}/events, /v1/feeds/{feed}/consumers/{name}, /v1/schema/feed-event.json, /v1/hospitals/{hospital}/feeds/{feed}/studies/{studyUid}, POST /v1/hospitals/{hospital}/inbound/{channel}, /v1/status, /metrics, /healthz`, RelayErrorCode.NOT_FOUND);
  }
}

/** No complete imaging instance of the feed matches the request, up to the feed's visible seq (HTTP 404). */
export class ImagingNotFoundError extends RelayError {
  override name = 'ImagingNotFoundError';
  constructor(
    message: string,
    readonly hospital: string,
    readonly feed: string,
  ) {
    super(message, RelayErrorCode.IMAGING_NOT_FOUND);
  }
}

/** The HTTP API is read-only (HTTP 405). */
export class MethodNotAllowedError extends RelayError {
  override name = 'MethodNotAllowedError';
  constructor(readonly method: string) {
    super(`method ${method} is not allowed; this API is read-only (GET)`, RelayErrorCode.METHOD_NOT_ALLOWED);
  }
}

/** The relay is stopping; the call was ended before it completed. */
export class ShuttingDownError extends RelayError {
  override name = 'ShuttingDownError';
  constructor() {
    super('relay is shutting down; reconnect', RelayErrorCode.SHUTTING_DOWN);
  }
}

/** The hospital revoked the feed: its events are erased and it is neither stored nor served (HTTP 410, gRPC NOT_FOUND). */
export class FeedRevokedError extends RelayError {
  override name = 'FeedRevokedError';
  constructor(
    readonly hospital: string,
    readonly feed: string,
    /** Milliseconds since the epoch. */
    readonly revokedAtMs: number,
  ) {
    super(
      `feed "${feed}" of hospital "${hospital}" was revoked by the hospital at ${new Date(revokedAtMs).toISOString()}: it is no longer served, and its events are erased from this relay's database (deleted and overwritten); copies made before the revoke are outside the relay's reach`,
      RelayErrorCode.FEED_REVOKED,
    );
  }
}

/** A Replicate stream did not say Hello in time (gRPC DEADLINE_EXCEEDED). */
export class HelloTimeoutError extends RelayError {
  override name = 'HelloTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`no valid Hello within ${timeoutMs} ms of opening the stream; the first message on a stream must be Hello`, RelayErrorCode.HELLO_TIMEOUT);
  }
}

/** Too many streams from one peer address are waiting for Hello (gRPC RESOURCE_EXHAUSTED). */
export class TooManyUnauthenticatedStreamsError extends RelayError {
  override name = 'TooManyUnauthenticatedStreamsError';
  constructor(readonly limit: number) {
    super(`${limit} streams from this address are already waiting to say Hello; say Hello on those first`, RelayErrorCode.TOO_MANY_UNAUTHENTICATED);
  }
}

/** The feed store was used after close(). */
export class FeedStoreClosedError extends RelayError {
  override name = 'FeedStoreClosedError';
  constructor() {
    super('feed store is closed', RelayErrorCode.INTERNAL);
  }
}

/** The relay's PostgreSQL database is unreachable (RelayDatabase): nothing was acknowledged. */
export class StoreUnavailableError extends RelayError {
  override name = 'StoreUnavailableError';
  constructor(
    readonly database: string,
    cause?: unknown,
  ) {
    super(`the relay's database ${database} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, RelayErrorCode.STORE_UNAVAILABLE, { cause });
  }
}

/** This process's signing key differs from the one the relay processes on the database share (shared-signing-key.ts). */
export class SigningKeyMismatchError extends RelayError {
  override name = 'SigningKeyMismatchError';
  constructor(
    readonly keyFile: string,
    readonly database: string,
  ) {
    super(
      `${keyFile} is not the signing key the other relay processes on ${database} sign with: exports, purge receipts and tree heads would verify against two keys. ` +
        `Copy relay-signing.key and relay-signing.pub from a running process's dataDir into this one's, then start again`,
      RelayErrorCode.SIGNING_KEY_MISMATCH,
    );
  }
}

/** The database was written by a newer relay; running this one could corrupt it (runtime/sqlite-migrations.ts). */
export class SchemaTooNewError extends RelayError {
  override name = 'SchemaTooNewError';
  constructor(
    readonly file: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(schemaTooNewMessage('relay', { file, found, supported }), RelayErrorCode.INTERNAL);
  }
}

/** A configured port could not be bound at start (the message: key, address, errno, config file); the relay does not start. */
export class ListenError extends RelayError {
  constructor(
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, RelayErrorCode.LISTEN_FAILED, options);
  }
  override name = 'ListenError';
}

/** No signed tree head covers the event, or no event is held at the seq (HTTP 404). */
export class ProofNotFoundError extends RelayError {
  override name = 'ProofNotFoundError';
  constructor(
    message: string,
    readonly hospital: string,
    readonly feed: string,
  ) {
    super(message, RelayErrorCode.PROOF_NOT_FOUND);
  }
}

// --- Purge (cloud-relay/exit/feed-purge.ts) ---

/** A purge that names what the relay does not hold, or that it cannot sign; nothing was deleted. */
export class PurgeRefusedError extends RelayError {
  override name = 'PurgeRefusedError';
  constructor(
    message: string,
    code:
      | typeof RelayErrorCode.PURGE_UNKNOWN_HOSPITAL
      | typeof RelayErrorCode.PURGE_UNKNOWN_FEED
      | typeof RelayErrorCode.PURGE_UNSIGNED
      | typeof RelayErrorCode.PURGE_BAD_REQUEST,
  ) {
    super(message, code);
  }
}

// --- Store migration (cloud-relay/store/postgres/store-migration.ts) ---

/** `wardline relay migrate-store` refused or failed; nothing was committed unless the code is MIGRATE_DIGEST_MISMATCH. */
export class StoreMigrationError extends RelayError {
  override name = 'StoreMigrationError';
  constructor(
    message: string,
    code:
      | typeof RelayErrorCode.MIGRATE_RELAY_RUNNING
      | typeof RelayErrorCode.MIGRATE_NO_DATABASE
      | typeof RelayErrorCode.MIGRATE_TARGET_NOT_EMPTY
      | typeof RelayErrorCode.MIGRATE_SCHEMA_MISMATCH
      | typeof RelayErrorCode.MIGRATE_CHUNK_DAMAGED
      | typeof RelayErrorCode.MIGRATE_DIGEST_MISMATCH,
    /** The table concerned, when there is one. */
    readonly table?: string,
    options?: { cause?: unknown },
  ) {
    super(message, code, options);
  }
}
