// The agent's catalogue of stable error codes, each with the line that tells the
// operator what to do. The classes live in their part's errors.ts (store, audit,
// http, bandwidth, control, replication, …) and take their code from here, so
// a code is written once and a log line, a status page or the documentation can
// name it. Codes are `WL_A` and three digits: never renumbered or reused once
// released, append a new one. Nothing here knows about HTTP or gRPC status: the
// routes convert at their boundary. Codes shared with the relay (credentials,
// protocol version, batches) are protocol ErrorCode; the policy engine's are
// PolicyErrorCode (agent/policy/errors.ts).
import { CodedError } from '../protocol/index.js';

export const AgentErrorCode = {
  /**
   * agent.db was written by a newer Wardline agent (its schema version is above the newest this
   * agent knows), so this agent refuses to open it. Install the newer Wardline again, or restore
   * the backup of agent.db taken before the upgrade.
   */
  SCHEMA_TOO_NEW: 'WL_A001',
  /**
   * A feed's relay holds less than the agent's journal still has (a relay restored from an older
   * backup, or a feed added after its streams were trimmed): the feed stops rather than skip events.
   * Restore the relay's data, or re-export the feed to its vendors.
   */
  JOURNAL_TRIMMED: 'WL_A002',
  /** A request body is larger than the endpoint accepts (HTTP 413). Send smaller requests, or split the rows over several. */
  BODY_TOO_LARGE: 'WL_A003',
  /**
   * An admin password hash in the config is not one `wardline agent hash-password` writes.
   * Run it again and paste its whole output into the config.
   */
  PASSWORD_HASH_FORMAT: 'WL_A004',
  /** A ledger record's details hold a value JSON cannot represent exactly (NaN, a bigint). This is an agent bug: report it with the log line. */
  CANONICAL_JSON: 'WL_A005',
  /**
   * A line of an egress-ledger export (or a row of the ledger) is not a well-formed record: the file was
   * cut or edited. Export it again from agent.db (`wardline audit export`), and keep the original.
   */
  LEDGER_FORMAT: 'WL_A006',
  /** An HTTP ingest body is not the rows it should be (bad JSON, wrong shape, too deep or too large); the message says which row and byte. Fix the sender. */
  INGEST_ROWS: 'WL_A007',
  /** An HTTP ingest request cannot be taken as sent (the message says why; nothing of it was journaled). Fix the sender's request. */
  INGEST_REQUEST: 'WL_A008',
  /** The replication link was asked to move between states that do not connect. This is an agent bug: report it with the log lines before it. */
  ILLEGAL_LINK_TRANSITION: 'WL_A009',
  /**
   * An MLLP sender sent a frame larger than the source's limit without an end marker; the connection is
   * closed. Raise sources[].maxFrameBytes if such messages are expected, or fix the sender's framing.
   */
  MLLP_FRAME_TOO_LARGE: 'WL_A010',
  /** An HL7 message was refused with an AE acknowledgement whose ERR segment says what and where. Fix the message at the sender (or the stream mapping). */
  HL7_REJECTED: 'WL_A011',
  /** A bandwidth rate in the config cannot be read. Write it as a number with a unit, such as "20Mbit/s" or "2.5MB/s". */
  INVALID_RATE: 'WL_A012',
  /** A bandwidth timetable window cannot be read. Write times as quoted "08:00" and days as "mon-fri", [sat, sun] or "daily". */
  INVALID_TIMETABLE: 'WL_A013',
  /** No configured feed has that name (HTTP 404). Check the feed name against feeds[].name in the agent's config. */
  UNKNOWN_FEED: 'WL_A014',
  /** The feed control is not allowed in the feed's current state (HTTP 409); the message says which. Check the feed's state first (`wardline agent status`). */
  FEED_CONTROL_CONFLICT: 'WL_A015',
  /** A feed-control request body is not the JSON it takes (HTTP 400); the message says what was wrong. Send {"reason": "…"} or nothing. */
  FEED_CONTROL_REQUEST: 'WL_A016',
  /**
   * The link to a relay failed (connect, handshake or stream); the message and the phase say where. When
   * it is retryable the agent reconnects by itself; otherwise fix what the message names (address,
   * TLS files, credentials) and the agent retries on `wardline agent reconnect`.
   */
  RELAY_LINK: 'WL_A017',
  /** The relay broke the replication protocol (an ack beyond what was sent). The agent reconnects; check both sides' versions and the relay's log. */
  RELAY_PROTOCOL_VIOLATION: 'WL_A018',
  /** A batch stayed unacknowledged past replication.ackTimeoutMs, so the link is treated as dead and reconnected. If it recurs, the line or the relay is too slow: raise the timeout. */
  ACK_TIMEOUT: 'WL_A019',
  /**
   * The audit commands cannot read an egress ledger from the agent.db they were given. If the file is missing,
   * check dataDir in the agent's config; if no agent with the ledger has opened it yet, start the agent once
   * with this version, then run the command again.
   */
  LEDGER_UNAVAILABLE: 'WL_A020',
  /**
   * agent.db holds a feed control state this agent does not know (written by a newer agent, or edited by hand),
   * so the agent will not guess whether the feed may send. Run the agent version that wrote it, or set that feed's
   * row in table feed_controls to one of the known states.
   */
  FEED_CONTROL_STATE_UNKNOWN: 'WL_A021',
  /**
   * The agent could not bind a port it is configured to listen on (http.listen or sources[].listen): taken by
   * another process, not permitted, or an address this machine does not have; the message names the key, the
   * address and the config file, and nothing was started. Free the port or change the key, then start again.
   */
  LISTEN_FAILED: 'WL_A022',
  /**
   * A message-browser search (GET /v1/messages) has a parameter it cannot use (HTTP 400); the message names it
   * and what was expected. Fix the parameter: from and to are ISO 8601 times or ms since the epoch, limit a whole number.
   */
  MESSAGE_QUERY: 'WL_A023',
  /**
   * A database source (postgres, mysql, sql-poll) cannot capture because the database is not set up for it: a
   * server setting (wal_level, binlog_format), a missing publication or privilege, a table without a primary key,
   * an unsupported column type, a wrong password. The message names the source, the table or setting and the fix;
   * that source stops and every other part goes on. Fix the database (README, "Database sources") and restart the agent.
   */
  CAPTURE_SETUP: 'WL_A024',
  /**
   * The database no longer holds the changes after the position a database source saved (its replication slot
   * was invalidated by max_slot_wal_keep_size, or the binlog files were purged): the source alerts and takes a
   * new snapshot of its tables rather than resume with a gap. Give the slot a larger WAL budget, or keep binlogs longer.
   */
  CAPTURE_POSITION_LOST: 'WL_A025',
  /**
   * An archived DICOM chunk no longer matches its SHA-256 (disk corruption): it is never served or sent. The
   * instance named in the message must be sent again by the PACS or modality (its other chunks are kept).
   */
  ARCHIVE_CORRUPT: 'WL_A026',
  /**
   * The DICOM source could not take an instance: the dataset could not be parsed (DIMSE status 0xC000, cannot
   * understand), the disk is critical (0xA700, out of resources), or the calling AE title is not accepted. The
   * message names the calling AE, the SOP Instance UID where known and the reason; the association goes on.
   */
  DICOM_REFUSED: 'WL_A027',
  /**
   * An imaging feed cannot ship its instances: the relay does not take blob transfer (its Welcome lacks
   * "blob-v1": upgrade the relay), or the relay refused an offer. The feed is held; other feeds go on.
   */
  BLOB_TRANSFER: 'WL_A028',
  /**
   * A completeness proof cannot run against this relay: its Welcome lacks "proof-v1" (upgrade the relay to a
   * release with completeness proofs), or it refused a proof request (the message says why). Replication goes on;
   * the feed shows no "verified complete through" seq until proofs run.
   */
  PROOF_UNAVAILABLE: 'WL_A029',
  /**
   * The relay's copy of a feed differs from what the agent sent: an event altered at the relay, or one the relay
   * holds that the agent never sent (the message names feed, seq and both hashes). Recorded in the egress ledger
   * ('integrity-incident') and alerted once; nothing is overwritten. Report it to the relay's operator; an event
   * merely missing at the relay is repaired by resending it and is no incident.
   */
  INTEGRITY_INCIDENT: 'WL_A030',
  // The exit (agent/exit): verifying and fetching a relay's signed export.
  /**
   * An export directory does not verify: a file was altered, cut, removed or added since the relay signed it (the
   * message names the file and what differs). Do not use it; export again, and keep the original as evidence.
   */
  EXPORT_TAMPERED: 'WL_A032',
  /**
   * The export's manifest signature does not verify against the relay key (--pubkey, or the relay-signing.pub beside
   * it): the manifest or its signature was altered, or another key signed it. Get the relay's public key from the
   * relay operator by a channel you trust and check again.
   */
  EXPORT_SIGNATURE: 'WL_A033',
  /** The relay does not serve the Export RPC (it is older than export-v1). Ask the relay operator to upgrade the relay. */
  EXPORT_RELAY_TOO_OLD: 'WL_A034',
  /**
   * Fetching an export from the relay failed (refused, cut, a part out of order, a path outside the export, or --out
   * not empty); nothing that looks whole was left in --out. Fix what the message names and fetch again.
   */
  EXPORT_FETCH: 'WL_A035',
  // The exit (agent/exit): restoring a fresh agent from the relay's backup feed.
  /**
   * `wardline agent restore` was pointed at a data directory that already holds files (an agent.db, or anything
   * else): restoring over it would mix two agents' journals. Give an empty (or new) dataDir, or pass --force to
   * replace what is there (the old agent.db is deleted).
   */
  RESTORE_DATA_DIR_IN_USE: 'WL_A036',
  /**
   * The backup feed's events do not decrypt with the keys in keys.dir (the message names the key id they were
   * encrypted with): the keyring is not the hospital's, or that key was retired and purged. Nothing was written.
   * Restore keys.dir from the hospital's key backup and run the restore again.
   */
  RESTORE_WRONG_KEYS: 'WL_A037',
  /**
   * The export holds no usable backup feed for this agent: the config has no feed with backup: true, the export
   * lacks its file, or an event in it is not a backup envelope. Nothing was written. Export the backup feed
   * (wardline relay export --hospital H) and check the config is the hospital's.
   */
  RESTORE_EXPORT_UNUSABLE: 'WL_A038',
  /**
   * --from-relay could not fetch the export over the backup feed's relay link (the message says why: the relay is
   * unreachable, refused the hospital's credentials, or predates export-v1). Nothing was restored. Fix the link, or
   * fetch the export another way (wardline relay export at the relay) and restore with --from DIR.
   */
  RESTORE_FROM_RELAY: 'WL_A039',
  /**
   * The relay speaks replication protocol 1 (no inbound-v1): the agent replicates its feeds to it in protocol 1,
   * but cannot take the inbound events vendors write there, which wait at the relay. Upgrade the relay; the agent
   * tries protocol 2 again every 10 minutes and on restart.
   */
  RELAY_PROTOCOL_TOO_OLD: 'WL_A040',
  /**
   * The relay refused a receipt the agent sent (an id it never sent, or a second final receipt with another
   * outcome); it stored nothing and the agent drops the receipt. Compare the event's journal entries
   * (stream inbound.<channel>.receipts) with what the relay shows for the id, and report it with the log line.
   */
  INBOUND_RECEIPT_REFUSED: 'WL_A041',
  /**
   * Inbound events the relay sent could not be journaled (the disk is full or agent.db failed): they were not
   * acknowledged, so the relay keeps them and sends them again after the link reconnects. Free disk space or fix
   * agent.db (the log line says why).
   */
  INBOUND_INTAKE_FAILED: 'WL_A042',
  /** No inbound channel of that name is configured (HTTP 404). Check the name against inbound[].channel in the agent's config (`wardline agent inbound list`). */
  UNKNOWN_INBOUND_CHANNEL: 'WL_A043',
  /** No inbound event with that id is held by this agent (HTTP 404). Check the id (ib and 18 characters) in the Inbound card or `wardline agent inbound list`. */
  UNKNOWN_INBOUND_EVENT: 'WL_A044',
  /**
   * Only a quarantined inbound event can be replayed or refused, and this one is not (HTTP 409); the message says
   * its state. An event being delivered or retried needs nothing; a final one cannot be changed.
   */
  INBOUND_CONTROL_CONFLICT: 'WL_A045',
  /**
   * The journal no longer holds an inbound event's body (trimmed, or agent.db restored without it), so it cannot
   * be delivered and is quarantined. Refuse it (`wardline agent inbound refuse ID --reason …`) and ask the vendor to send it again.
   */
  INBOUND_EVENT_LOST: 'WL_A046',
  // The downlink's sinks (agent/downlink/sinks): delivering inbound events into the hospital's systems.
  /**
   * The hospital system refuses what Wardline needs to deliver there, whatever the event: the inbox table is missing
   * (and createTable is off) or lacks a column, the database refuses the login or the permission, the webhook secret
   * is not a Standard Webhooks "whsec_" secret. Deliveries wait (nothing is quarantined). Fix what the message names
   * (create the table or set createTable: true, grant INSERT, SELECT and UPDATE on it, fix the secret file).
   */
  SINK_SETUP: 'WL_A047',
  /**
   * The inbox database could not be reached to read what the HIS decided or to withdraw an expired row; the
   * delivery engine asks again at its next round. Check the database server and the network path to it.
   */
  SINK_UNAVAILABLE: 'WL_A048',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

/** Base class: every agent error carries a stable code from AgentErrorCode and is named after its class. */
export class AgentError extends CodedError<AgentErrorCode> {}

/** A configured port could not be bound at start (the message: key, address, errno, config file); the agent does not start. */
export class ListenError extends AgentError {
  constructor(
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, AgentErrorCode.LISTEN_FAILED, options);
  }
}
