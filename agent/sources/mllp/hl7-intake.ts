// What an MLLP source does with one frame, without the socket: decode → parse →
// admit → route → append → the ACK. No sockets and no timers of its own (the
// pause between slices of a large frame is injected), so every answer can be
// tested by handing it bytes (test/unit/hl7-intake.test.ts).
//
// Failure modes handled (numbers as in mllp-listener.ts):
//  1. A message the agent cannot take (bad charset, bad MSH, no key): AE with an ERR
//     saying why; the caller goes on serving later frames.
//  2. The agent refuses for a reason of its own (admission check, store failure, an
//     internal error): AR, so the sender keeps the message and retries; nothing is
//     claimed durable.
//  3. AA only once the writer has resolved, i.e. the event is durable (invariant 1);
//     a retransmission the store recognises as a duplicate is answered AA again.
//  8. A retransmission is the same message: the dedupe key carries the content's
//     digest (without MSH-7). The same MSH-10 with other content is journaled as a
//     new event, logged and reported for the control-id-reused alert.
// 10. A large message does not hold the event loop for its whole parse: decoding,
//     parsing and hashing are separated by the injected pause().
import iconv from 'iconv-lite';
import type { AppendRequest, AppendResult, JournalWriter } from '../../store/index.js';
import type { AdmissionCheck } from '../source.js';
import { hl7RejectionKind, type RejectionKind } from '../rejection-kind.js';
import {
  buildAck,
  checkHl7Mapping,
  decodeHl7,
  encodeHl7,
  Hl7Error,
  Hl7ErrorCode,
  hl7ContentDigest,
  Hl7Message,
  readHl7Header,
  resolveHl7Route,
  rewriteMsh18,
  STORED_HL7_CHARSET,
  type AckCode,
  type AckError,
  type DecodedHl7,
  type Hl7Header,
  type Hl7MappingRule,
} from '../../hl7/index.js';
import { ControlIdReuseLog, type ControlIdReuse } from './control-id-reuse-log.js';

/** The logging an MLLP source needs; a pino logger fits. Never given message content (it is patient data). */
export interface MllpLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface Hl7IntakeOptions {
  /** The source name, recorded on every event and passed to the admission check. */
  source: string;
  writer: JournalWriter;
  /** The rules in force, usually `mergeMapping(configured)`. Checked in the constructor. */
  mapping: readonly Hl7MappingRule[];
  /** Consulted for every message; a refusal is answered AR with its reason. */
  admission?: AdmissionCheck;
  log: MllpLogger;
  /** MSH-18 assumed for messages that declare no charset and are not valid UTF-8; default "GB 18030-2000". */
  fallbackCharset?: string;
  /** Clock for ACK timestamps and stats; default `() => new Date()`. */
  now?: () => Date;
  /** Start of every ACK's MSH-10; default "WL" and the clock in base 36, so ids differ across restarts. */
  ackIdPrefix?: string;
  /**
   * Lets other work run between the slices of a frame of SLICE_FRAME_BYTES or more
   * (the listener hands in a setImmediate); default: no pause.
   */
  pause?: () => Promise<void>;
}

/** An ACK ready to write, and what it said. */
export interface Answer {
  bytes: Buffer;
  code: AckCode;
  /** For AE and AR: why, and the MSH-10 when the header could be read (the rejected-message list). */
  rejection?: { reason: string; controlId?: string };
}

/** A message parsed and mapped, ready to append. */
export interface PreparedMessage {
  request: AppendRequest;
  message: Hl7Message;
  messageType: string;
  stream: string;
  encodeAck: (text: string) => Buffer;
}

/** What prepare() made of a frame: a message to append, or already its answer. */
export type Prepared = PreparedMessage | { answer: Answer };

/** What the intake counted; the listener adds its connections. */
export interface Hl7IntakeCounts {
  /** Frames received (blank keep-alive frames excluded). */
  received: number;
  /** Messages answered AA, duplicates included. */
  acknowledged: number;
  /** AA answers to retransmissions the store already held. */
  duplicates: number;
  /** Messages answered AE or AR. */
  rejected: number;
  /** Messages journaled although their MSH-10 was held with other content. */
  controlIdsReused: number;
}

/** The text to journal: MSH-18 and hex escapes rewritten to UTF-8 when the wire was another charset. */
function storedText(decoded: DecodedHl7): string {
  const decodeBytes = (bytes: Buffer): string => (decoded.encoding === 'utf8' ? bytes.toString('utf8') : iconv.decode(bytes, decoded.encoding));
  return rewriteMsh18(decoded.text, { charset: decoded.charset, encoding: decoded.encoding, decodeBytes });
}

/** Frames from this size on are decoded, parsed and hashed in slices (pause() between). */
export const SLICE_FRAME_BYTES = 256 * 1024;

/** Turns HL7 frames into appends and original-mode ACKs, and counts what it answered. */
export class Hl7Intake {
  readonly counts: Hl7IntakeCounts = { received: 0, acknowledged: 0, duplicates: 0, rejected: 0, controlIdsReused: 0 };
  private readonly reuse = new ControlIdReuseLog();
  private lastRejectionValue: { at: Date; code: 'AE' | 'AR'; reason: string; kind: RejectionKind } | undefined;
  private lastMessageAtValue: Date | undefined;
  private readonly now: () => Date;
  private readonly pause: () => Promise<void>;
  private readonly ackIdPrefix: string;
  private ackSequence = 0;

  /** @throws RangeError when a mapping rule is malformed (naming the rule). */
  constructor(private readonly options: Hl7IntakeOptions) {
    checkHl7Mapping(options.mapping);
    this.now = options.now ?? (() => new Date());
    this.pause = options.pause ?? (() => Promise.resolve());
    // ACK control ids must differ across restarts too; MSH-10 is 20 characters in v2.5.
    this.ackIdPrefix = options.ackIdPrefix ?? `WL${this.now().getTime().toString(36).toUpperCase()}`;
  }

  /** The senders that reused a control id, newest first. */
  controlIdReuse(): ControlIdReuse[] {
    return this.reuse.list();
  }

  get lastRejection(): { at: Date; code: 'AE' | 'AR'; reason: string; kind: RejectionKind } | undefined {
    return this.lastRejectionValue;
  }

  get lastMessageAt(): Date | undefined {
    return this.lastMessageAtValue;
  }

  /** prepare() then commit(): the answer to one frame. Never rejects. */
  async take(frame: Buffer): Promise<Answer> {
    const prepared = await this.prepare(frame);
    return 'answer' in prepared ? prepared.answer : this.commit(prepared);
  }

  /**
   * A message from bytes to its append request, or to its answer when it cannot be
   * taken. Never rejects. A large frame pauses between decoding, parsing and
   * hashing; a connection runs its frames' prepare() one after another and
   * commit() at once after each, so appends keep the sender's order.
   */
  async prepare(frame: Buffer): Promise<Prepared> {
    const name = this.options.source;
    this.counts.received++;
    this.lastMessageAtValue = this.now();
    const slice = frame.length >= SLICE_FRAME_BYTES;
    let header: Hl7Header | undefined;
    let encodeAck = (text: string): Buffer => Buffer.from(text, 'utf8');
    try {
      let decoded: DecodedHl7;
      try {
        decoded = decodeHl7(frame, { fallbackCharset: this.options.fallbackCharset });
      } catch (err) {
        // Latin-1 maps each byte to one character, so the MSH fields the ACK echoes go
        // back byte for byte whatever the undecodable charset really was.
        header = readHl7Header(frame.toString('latin1'));
        encodeAck = (text) => Buffer.from(text, 'latin1');
        throw err;
      }
      // The encoding actually used, which differs from MSH-18 when the fallback applied.
      encodeAck = (text) => encodeHl7(text, decoded.encoding);
      if (slice) await this.pause();
      let message: Hl7Message;
      try {
        message = Hl7Message.parse(decoded.text);
      } catch (err) {
        header = readHl7Header(decoded.text);
        throw err;
      }
      header = message;

      const refusal = this.options.admission?.(name);
      if (refusal !== undefined) {
        return { answer: this.answer('AR', header, { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: refusal }, encodeAck, 'disk-full') };
      }
      const route = resolveHl7Route(message, this.options.mapping);
      const messageType = message.triggerEvent === '' ? message.messageType : `${message.messageType}^${message.triggerEvent}`;
      if (slice) await this.pause();
      const request: AppendRequest = {
        source: name,
        events: [
          {
            stream: route.stream,
            key: route.key,
            op: route.op,
            contentType: 'hl7v2',
            // Stored as UTF-8 whatever the wire charset, and MSH-18 says so (a vendor's
            // engine honours it); headers.originalCharset keeps what the wire said.
            body: Buffer.from(storedText(decoded), 'utf8'),
            headers: {
              controlId: message.controlId,
              messageType,
              sendingApplication: message.sendingApplication,
              sendingFacility: message.sendingFacility,
              charset: STORED_HL7_CHARSET,
              originalCharset: decoded.fallbackCharset ?? decoded.charset,
            },
          },
        ],
        // Retransmissions reuse MSH-10 from the same application and facility, and
        // are the same message: the digest tells them from a reused control id. It is
        // over the message as received (MSH-18 as the sender wrote it), so a
        // retransmission matches whatever the stored form says.
        dedupe: { scope: `${message.sendingApplication}|${message.sendingFacility}`, id: message.controlId, digest: hl7ContentDigest(message) },
      };
      return { request, message, messageType, stream: route.stream, encodeAck };
    } catch (err) {
      return { answer: this.failed(err, header, encodeAck) };
    }
  }

  /** Appends a prepared message and answers it. Never rejects; calls the writer before its first await. */
  async commit(prepared: PreparedMessage): Promise<Answer> {
    const { source: name, log } = this.options;
    const { request, message, messageType, encodeAck } = prepared;
    let result: AppendResult;
    try {
      result = await this.options.writer.append(request);
    } catch (err) {
      log.error({ err, source: name, controlId: message.controlId }, 'Journal append failed; answering AR');
      const error = { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: 'The agent could not store the message; resend it later' };
      return this.answer('AR', message, error, encodeAck);
    }
    this.counts.acknowledged++;
    if (result.duplicate) this.counts.duplicates++;
    if (result.idReused === true) this.controlIdReused(message, result.seqs[0] ?? 0);
    log.debug(
      { source: name, controlId: message.controlId, messageType, stream: prepared.stream, seqs: result.seqs, duplicate: result.duplicate },
      'HL7 message journaled',
    );
    return this.answer('AA', message, undefined, encodeAck);
  }

  /**
   * Answers AR to a frame the agent will not take for a limit of its own
   * (maxSegments, maxBufferedBytes), from what its head holds of MSH.
   */
  refuseFrame(head: Buffer, reason: string): Answer {
    this.counts.received++;
    this.lastMessageAtValue = this.now();
    const error = { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: reason };
    return this.answer('AR', readHl7Header(head.toString('latin1')), error, (text) => Buffer.from(text, 'latin1'), 'frame-limit');
  }

  /** Answers AE to a frame over maxFrameBytes; the caller then closes the connection. */
  refuseOversize(limitBytes: number): Answer {
    this.counts.received++;
    this.lastMessageAtValue = this.now();
    const error = {
      hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR,
      message: `MLLP frame larger than ${limitBytes} bytes; closing the connection`,
    };
    return this.answer('AE', undefined, error, (text) => Buffer.from(text, 'utf8'), 'frame-too-large');
  }

  private failed(err: unknown, header: Hl7Header | undefined, encodeAck: (text: string) => Buffer): Answer {
    if (err instanceof Hl7Error) return this.answer('AE', header, err, encodeAck);
    this.options.log.error({ err, source: this.options.source }, 'Unexpected error handling an HL7 message; answering AR');
    const error = { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: 'Internal error in the agent; the message was not stored' };
    return this.answer('AR', header, error, encodeAck, 'internal');
  }

  /** Names the sender and the control id, never the content (it is patient data). */
  private controlIdReused(message: Hl7Message, seq: number): void {
    this.counts.controlIdsReused++;
    const reuse = this.reuse.record({
      sendingApplication: message.sendingApplication,
      sendingFacility: message.sendingFacility,
      controlId: message.controlId,
      seq,
      atMs: this.now().getTime(),
    });
    this.options.log.warn(
      { source: this.options.source, sendingApplication: reuse.sendingApplication, sendingFacility: reuse.sendingFacility, controlId: reuse.controlId, seq, reuses: reuse.count },
      'HL7 control id reused with different content: journaled as a new message (a spoofed message, or a sender whose counter reset)',
    );
  }

  /** `kind` names a refusal the HL7 code alone does not tell apart (207 covers disk, limits and faults). */
  private answer(code: AckCode, original: Hl7Header | undefined, error: AckError | undefined, encode: (text: string) => Buffer, kind?: RejectionKind): Answer {
    const at = this.now();
    const controlId = `${this.ackIdPrefix}${(++this.ackSequence).toString(36).toUpperCase()}`;
    const text = buildAck({ original, code, error, now: at, controlId });
    if (code !== 'AA') {
      const reason = error?.message ?? code;
      this.counts.rejected++;
      this.lastRejectionValue = { at, code, reason, kind: kind ?? hl7RejectionKind(error?.hl7Code) };
      this.options.log.warn(
        {
          source: this.options.source,
          controlId: original?.mshField(10),
          ack: code,
          hl7Code: error?.hl7Code,
          location: error?.location,
          reason,
        },
        `HL7 message answered ${code}`,
      );
    }
    if (code === 'AA') return { bytes: encode(text), code };
    const refusedId = original?.mshField(10);
    return { bytes: encode(text), code, rejection: { reason: error?.message ?? code, ...(refusedId ? { controlId: refusedId } : {}) } };
  }
}
