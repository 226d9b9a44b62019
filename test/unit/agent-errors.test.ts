// The agent's error catalogue (agent/errors.ts): every code stable in form,
// unique across everything an operator's log can show, documented with a remedy,
// and carried by a class that sets its name and keeps a cause.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { AgentError, AgentErrorCode, ListenError } from '../../agent/errors.js';
import { CanonicalJsonError, LedgerFormatError, LedgerUnavailableError } from '../../agent/audit/index.js';
import { InvalidRateError, InvalidTimetableError } from '../../agent/bandwidth/index.js';
import { FeedControlError, UnknownFeedControlStateError } from '../../agent/control/index.js';
import { Hl7Error, Hl7ErrorCode, Hl7MappingError, MllpFrameTooLargeError } from '../../agent/hl7/index.js';
import { BodyTooLargeError, FeedControlRequestError, MessageQueryError, PasswordHashFormatError } from '../../agent/http/errors.js';
import { PolicyErrorCode } from '../../agent/policy/errors.js';
import { AckTimeoutError, RelayLinkError, RelayProtocolViolation } from '../../agent/replication/errors.js';
import { IllegalLinkTransitionError } from '../../agent/replication/errors.js';
import { IngestRequestError } from '../../agent/sources/http-ingest/ingest-rows.js';
import { RowScanError } from '../../agent/sources/http-ingest/json-row-scanner.js';
import { JournalTrimmedError, SchemaTooNewError } from '../../agent/store/index.js';
import { CapturePositionLostError, CaptureSetupError } from '../../agent/sources/index.js';
import { DicomRefusedError } from '../../agent/sources/dicom/instance-intake.js';
import { ArchiveCorruptError } from '../../agent/imaging/index.js';
import { BlobRefusedError, InboundIntakeError, InboundReceiptRefusedError, IntegrityIncidentError, ProofRefusedError, RelayProtocolTooOldError } from '../../agent/replication/errors.js';
import {
  ExportFetchError,
  ExportRelayTooOldError,
  ExportSignatureError,
  ExportTamperedError,
  RestoreDataDirInUseError,
  RestoreExportUnusableError,
  RestoreFromRelayError,
  RestoreWrongKeysError,
} from '../../agent/exit/index.js';
import { InboundControlError, InboundEventLostError } from '../../agent/downlink/index.js';
import { SinkSetupError, SinkUnavailableError } from '../../agent/downlink/sinks/index.js';
import { RelayErrorCode } from '../../cloud-relay/errors.js';
import { ErrorCode } from '../../protocol/index.js';

const CATALOGUE = join(import.meta.dirname, '../../agent/errors.ts');
const AGENT_DIR = join(import.meta.dirname, '../../agent');

/** Each AgentErrorCode member with the JSDoc written above it, read from the source (JSDoc does not survive compilation). */
function documentedMembers(): { key: string; doc: string }[] {
  const source = ts.createSourceFile(CATALOGUE, readFileSync(CATALOGUE, 'utf8'), ts.ScriptTarget.Latest, true);
  const members: { key: string; doc: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText() === 'AgentErrorCode') {
      let literal = node.initializer!;
      while (ts.isAsExpression(literal)) literal = literal.expression;
      for (const property of (literal as ts.ObjectLiteralExpression).properties) {
        const docs = ts.getJSDocCommentsAndTags(property).map((d) => ts.getTextOfJSDocComment((d as ts.JSDoc).comment) ?? '');
        members.push({ key: property.name!.getText(), doc: docs.join(' ').trim() });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return members;
}

function agentSources(dir = AGENT_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? agentSources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [readFileSync(join(dir, entry.name), 'utf8')] : [],
  );
}

describe('agent error codes', () => {
  const codes = Object.values(AgentErrorCode);

  it('are WL_A and three digits, each used once', () => {
    for (const code of codes) expect(code).toMatch(/^WL_A\d{3}$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("never collide with the protocol's, the relay's or the policy engine's codes", () => {
    const all = [...codes, ...Object.values(ErrorCode), ...Object.values(RelayErrorCode), ...Object.values(PolicyErrorCode)];
    expect(new Set(all).size).toBe(all.length);
  });

  it('each have a remedy line for the operator', () => {
    const members = documentedMembers();
    expect(members.map((m) => m.key).sort()).toEqual(Object.keys(AgentErrorCode).sort());
    for (const { key, doc } of members) {
      // A sentence that says what happened and one that says what to do.
      expect(doc.length, key).toBeGreaterThan(40);
      expect(doc, key).toMatch(/\.\s+\S/);
    }
  });

  it('are each raised somewhere in the agent', () => {
    const text = agentSources().join('\n');
    for (const key of Object.keys(AgentErrorCode)) expect(text, key).toContain(`AgentErrorCode.${key}`);
  });
});

describe('agent error classes', () => {
  const cause = new Error('underneath');
  const cases: [AgentError, string, string][] = [
    [new SchemaTooNewError({ file: '/data/agent.db', found: 9, supported: 8 }, { cause }), 'SchemaTooNewError', AgentErrorCode.SCHEMA_TOO_NEW],
    [new JournalTrimmedError(3, 10, { cause }), 'JournalTrimmedError', AgentErrorCode.JOURNAL_TRIMMED],
    [new BodyTooLargeError(1024, { cause }), 'BodyTooLargeError', AgentErrorCode.BODY_TOO_LARGE],
    [new PasswordHashFormatError('salt or hash too short', { cause }), 'PasswordHashFormatError', AgentErrorCode.PASSWORD_HASH_FORMAT],
    [new FeedControlRequestError('the body must be JSON', 'not-json', { cause }), 'FeedControlRequestError', AgentErrorCode.FEED_CONTROL_REQUEST],
    [new MessageQueryError('from', 'from: expected an ISO 8601 time', { cause }), 'MessageQueryError', AgentErrorCode.MESSAGE_QUERY],
    [new CaptureSetupError('his', 'wal_level is replica', { cause }), 'CaptureSetupError', AgentErrorCode.CAPTURE_SETUP],
    [new CapturePositionLostError('his', 'slot lost', { cause }), 'CapturePositionLostError', AgentErrorCode.CAPTURE_POSITION_LOST],
    [new CanonicalJsonError('$.x: NaN has no JSON representation', { cause }), 'CanonicalJsonError', AgentErrorCode.CANONICAL_JSON],
    [new LedgerFormatError('"type" is missing', { cause }), 'LedgerFormatError', AgentErrorCode.LEDGER_FORMAT],
    [new LedgerUnavailableError('/data/agent.db', 'missing-file'), 'LedgerUnavailableError', AgentErrorCode.LEDGER_UNAVAILABLE],
    [new RowScanError('body is empty', 400, 'json', { cause }), 'RowScanError', AgentErrorCode.INGEST_ROWS],
    [new IngestRequestError('row 1 has no "key"', 400, { cause }), 'IngestRequestError', AgentErrorCode.INGEST_REQUEST],
    [new IllegalLinkTransitionError('closed', 'connecting'), 'IllegalLinkTransitionError', AgentErrorCode.ILLEGAL_LINK_TRANSITION],
    [new MllpFrameTooLargeError(16, [], { cause }), 'MllpFrameTooLargeError', AgentErrorCode.MLLP_FRAME_TOO_LARGE],
    [new Hl7Error(Hl7ErrorCode.DATA_TYPE, 'bad delimiters', { cause }), 'Hl7Error', AgentErrorCode.HL7_REJECTED],
    [new Hl7MappingError('ADT^A01', 'adt', ['PID-3.1']), 'Hl7MappingError', AgentErrorCode.HL7_REJECTED],
    [new InvalidRateError('fast', 'not a rate', { cause }), 'InvalidRateError', AgentErrorCode.INVALID_RATE],
    [new InvalidTimetableError('25:00', 'not a time', { cause }), 'InvalidTimetableError', AgentErrorCode.INVALID_TIMETABLE],
    [new FeedControlError('no feed named "x"', 'unknown-feed', 'x', { cause }), 'FeedControlError', AgentErrorCode.UNKNOWN_FEED],
    [new FeedControlError('feed x is revoked', 'conflict', 'x', { cause }), 'FeedControlError', AgentErrorCode.FEED_CONTROL_CONFLICT],
    [new RelayLinkError('cannot reach relay', true, 'connect', { cause }), 'RelayLinkError', AgentErrorCode.RELAY_LINK],
    [new RelayProtocolViolation('ack beyond what was sent', { cause }), 'RelayProtocolViolation', AgentErrorCode.RELAY_PROTOCOL_VIOLATION],
    [new AckTimeoutError('clinical', 30_000, { cause }), 'AckTimeoutError', AgentErrorCode.ACK_TIMEOUT],
    [new UnknownFeedControlStateError('clinical', 'frozen', ['active', 'paused']), 'UnknownFeedControlStateError', AgentErrorCode.FEED_CONTROL_STATE_UNKNOWN],
    [new ListenError('http.listen', 'http.listen: cannot listen on 127.0.0.1:8480 (agent.yaml)', { cause }), 'ListenError', AgentErrorCode.LISTEN_FAILED],
    [new ArchiveCorruptError('ab'.repeat(32), 'its bytes hash to cd…'), 'ArchiveCorruptError', AgentErrorCode.ARCHIVE_CORRUPT],
    [new DicomRefusedError('unparseable', 'the dataset has no SOP Instance UID (0008,0018)'), 'DicomRefusedError', AgentErrorCode.DICOM_REFUSED],
    [new BlobRefusedError('the relay refused the offer: feed not granted'), 'BlobRefusedError', AgentErrorCode.BLOB_TRANSFER],
    // The exit: a relay's signed export.
    [new ExportTamperedError('feeds/adt.ndjson', 'line 3: the body hashes to …'), 'ExportTamperedError', AgentErrorCode.EXPORT_TAMPERED],
    [new ExportSignatureError('manifest.json', 'does not verify', { cause }), 'ExportSignatureError', AgentErrorCode.EXPORT_SIGNATURE],
    [new ExportRelayTooOldError('relay.example:7443'), 'ExportRelayTooOldError', AgentErrorCode.EXPORT_RELAY_TOO_OLD],
    [new ExportFetchError('the stream ended in the middle of feeds/adt.ndjson', { cause }), 'ExportFetchError', AgentErrorCode.EXPORT_FETCH],
    [new ProofRefusedError('the relay refused the proof request: range past the mark', { cause }), 'ProofRefusedError', AgentErrorCode.PROOF_UNAVAILABLE],
    [new IntegrityIncidentError('clinical', 4_321, 'altered', 'the relay holds another body'), 'IntegrityIncidentError', AgentErrorCode.INTEGRITY_INCIDENT],
    [new RestoreDataDirInUseError('/var/lib/wardline', ['agent.db']), 'RestoreDataDirInUseError', AgentErrorCode.RESTORE_DATA_DIR_IN_USE],
    [new RestoreWrongKeysError('enc-2026', 7, 'is not in keys.dir', { cause }), 'RestoreWrongKeysError', AgentErrorCode.RESTORE_WRONG_KEYS],
    [new RestoreExportUnusableError('the export has no backup feed', { cause }), 'RestoreExportUnusableError', AgentErrorCode.RESTORE_EXPORT_UNUSABLE],
    [new RestoreFromRelayError('the relay is unreachable', { cause }), 'RestoreFromRelayError', AgentErrorCode.RESTORE_FROM_RELAY],
    // The downlink's link.
    [new RelayProtocolTooOldError(1, 'relay at r:7443 speaks an older replication protocol version (1)', { cause }), 'RelayProtocolTooOldError', AgentErrorCode.RELAY_PROTOCOL_TOO_OLD],
    [new InboundReceiptRefusedError('ibaaaaaaaaaaaaaaaaaa', 'already has the final receipt accepted'), 'InboundReceiptRefusedError', AgentErrorCode.INBOUND_RECEIPT_REFUSED],
    [new InboundIntakeError('bookings', 'cannot journal 2 inbound event(s)', { cause }), 'InboundIntakeError', AgentErrorCode.INBOUND_INTAKE_FAILED],
    // The downlink: an operator's inbound control, an event whose body is gone.
    [new InboundControlError('no inbound channel named "x" is configured', 'unknown-channel', 'x', { cause }), 'InboundControlError', AgentErrorCode.UNKNOWN_INBOUND_CHANNEL],
    [new InboundControlError('no inbound event ibaaaaaaaaaaaaaaaaaa', 'unknown-event', 'ibaaaaaaaaaaaaaaaaaa'), 'InboundControlError', AgentErrorCode.UNKNOWN_INBOUND_EVENT],
    [new InboundControlError('inbound event ibaaaaaaaaaaaaaaaaaa is accepted, not quarantined', 'conflict', 'ibaaaaaaaaaaaaaaaaaa'), 'InboundControlError', AgentErrorCode.INBOUND_CONTROL_CONFLICT],
    [new InboundEventLostError('ibaaaaaaaaaaaaaaaaaa', 12, { cause }), 'InboundEventLostError', AgentErrorCode.INBOUND_EVENT_LOST],
    // The downlink's sinks.
    [new SinkSetupError('inbox', 'the inbox table does not exist: create it or set createTable: true', { cause }), 'SinkSetupError', AgentErrorCode.SINK_SETUP],
    [new SinkUnavailableError('inbox', 'cannot read the HIS decisions: connect ECONNREFUSED', { cause }), 'SinkUnavailableError', AgentErrorCode.SINK_UNAVAILABLE],
  ];

  it.each(cases.map(([error, name, code]) => ({ error, name, code })))('$name carries $code, its name and its cause', ({ error, name, code }) => {
    expect(error).toBeInstanceOf(AgentError);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(String(error)).toMatch(new RegExp(`^${name}: `));
    if (error.cause !== undefined) expect(error.cause).toBe(cause);
  });

  it('cover every code in the catalogue', () => {
    expect(new Set(cases.map(([, , code]) => code))).toEqual(new Set(Object.values(AgentErrorCode)));
  });
});
