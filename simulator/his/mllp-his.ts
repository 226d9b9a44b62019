// A hospital information system as an HL7 filler over MLLP, for `wardline demo` and
// the downlink's fault tests: it books slots (SRM^S01 → SRR^S01), registers patients
// (ADT^A04) and posts charges (DFT^P03), and keeps a record of what it applied so a
// test can check order per patient, exactly-once application and resends.
//
// Failure modes handled (and those it plays on demand):
//  1. A resend of a message already decided (same MSH-10: the sender lost our answer,
//     or timed out): answered with the very bytes of the first answer, not applied
//     again, counted as a transmission. AE is not a decision: a resend after AE is
//     processed afresh, as a real HIS retries what failed inside it.
//  2. Two bookings of one slot (doctor + slot start): the second is refused, SRR^S01
//     MSA-1 AR, MSA-3 "slot already taken".
//  3. A message it cannot parse: AE (MSA-2 empty when even MSH-10 is unreadable).
//  4. Played faults: `down` (connections refused: the port is closed), `hang` (frames
//     read and counted, never answered), `dropAnswers` (applied, then the connection is
//     cut before the answer: the sender must resend and be deduplicated), `aeNext(n)`
//     (the next n messages answered AE, not applied) and a seeded refusal fraction.

import net from 'node:net';
import { decodeHl7, encodeHl7, frameMllp, Hl7Message, MllpFramer } from '../../agent/hl7/index.js';
import { SeededRandom, type Seed } from '../seeded-random.js';
import { buildHisAnswer, type HisAnswer, type HisAnswerCode } from './his-answer.js';

export interface MllpHisSlotFields {
  /** HL7 paths of the doctor (or other resource); the first non-empty one counts. */
  doctor: readonly string[];
  /** HL7 paths of the slot's start; the first non-empty one counts. */
  start: readonly string[];
}

/** Where an SRM^S01 names its slot: the personnel resource (AIP-3), the start in AIS-4, AIP-6 or ARQ-11. */
export const DEFAULT_SLOT_FIELDS: MllpHisSlotFields = Object.freeze({
  doctor: ['AIP-3.1', 'AIG-3.1'],
  start: ['AIS-4.1', 'AIP-6.1', 'ARQ-11.1'],
});

/** MSA-3 of a booking refused because its slot is booked. */
export const SLOT_TAKEN_REASON = 'slot already taken';
/** MSA-3 of a message refused by the refusal fraction. */
export const RANDOM_REFUSAL_REASON = 'refused by the HIS (simulated refusal)';
/** MSA-3 of an AE played by aeNext(). */
export const DEFAULT_AE_TEXT = 'HIS internal error (simulated)';

export interface MllpHisOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port; read `port` after start()). */
  port?: number;
  /** The path of the ordering key (the patient) in every message. Default PID-3.1. */
  keyField?: string;
  slotFields?: MllpHisSlotFields;
  /** Share (0..1) of messages refused AR with RANDOM_REFUSAL_REASON, drawn from `seed`. Default 0. */
  refuseFraction?: number;
  /** Default 'mllp-his'. */
  seed?: Seed;
  /** Prefix of the filler appointment ids (SCH-2). Default 'FA'. */
  fillerIdPrefix?: string;
  /** A pause before answering each message, in ms (a slow HIS). Default 0. */
  answerDelayMs?: number;
}

/** One message the HIS applied (accepted), in the order it applied them. */
export interface MllpHisApplied {
  controlId: string;
  key: string;
  /** MSH-9.1^MSH-9.2, e.g. "SRM^S01". */
  messageType: string;
  appliedAtMs: number;
  /** SCH-2 of a booking, '' otherwise. */
  fillerAppointmentId: string;
  /** "doctor@start" of a booking, '' otherwise. */
  slot: string;
}

/** One decision (AA or AR) the HIS made, in order. */
export interface MllpHisDecision {
  controlId: string;
  key: string;
  messageType: string;
  code: HisAnswerCode;
  text: string;
  decidedAtMs: number;
}

export interface MllpHisStats {
  connections: number;
  /** Frames received, resends included. */
  frames: number;
  applied: number;
  refused: number;
  /** AE answers (unparseable or played). */
  errors: number;
  /** Frames whose MSH-10 had been decided before (answered from the record). */
  duplicates: number;
  /** Frames read while hanging, never answered. */
  unanswered: number;
}

interface Decided {
  answer: Buffer;
  decision: MllpHisDecision;
}

export class MllpHis {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private boundPort: number;
  private readonly host: string;
  private readonly keyField: string;
  private readonly slotFields: MllpHisSlotFields;
  private readonly rng: SeededRandom;
  private readonly fillerIdPrefix: string;
  private refuseFraction: number;
  private answerDelayMs: number;
  private down = false;
  private hang = false;
  private dropAnswers = false;
  private aeRemaining = 0;
  private aeText = DEFAULT_AE_TEXT;
  private answerSerial = 0;
  private fillerSerial = 0;
  private readonly decided = new Map<string, Decided>();
  private readonly transmissionCounts = new Map<string, number>();
  private readonly slots = new Map<string, string>();
  private readonly appliedList: MllpHisApplied[] = [];
  private readonly decisionList: MllpHisDecision[] = [];
  private readonly counters: MllpHisStats = { connections: 0, frames: 0, applied: 0, refused: 0, errors: 0, duplicates: 0, unanswered: 0 };

  constructor(options: MllpHisOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.boundPort = options.port ?? 0;
    this.keyField = options.keyField ?? 'PID-3.1';
    this.slotFields = options.slotFields ?? DEFAULT_SLOT_FIELDS;
    this.rng = new SeededRandom(options.seed ?? 'mllp-his');
    this.fillerIdPrefix = options.fillerIdPrefix ?? 'FA';
    this.refuseFraction = checkFraction(options.refuseFraction ?? 0);
    this.answerDelayMs = options.answerDelayMs ?? 0;
  }

  /** The listening port (the one chosen when started on port 0). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    await this.closeListener();
  }

  /**
   * Down: the port is closed (a connect is refused) and open connections are cut.
   * Up again: it listens on the same port.
   */
  async setDown(down: boolean): Promise<void> {
    this.down = down;
    if (down) await this.closeListener();
    else await this.start();
  }

  /** Hang: connections are accepted and frames read, but nothing is answered or applied. */
  setHang(hang: boolean): void {
    this.hang = hang;
  }

  /** Drop answers: each message is decided and applied, then the connection is cut before the answer leaves. */
  setDropAnswers(drop: boolean): void {
    this.dropAnswers = drop;
  }

  /** The next `count` messages (not yet decided) are answered AE with `text` and not applied. */
  aeNext(count: number, text = DEFAULT_AE_TEXT): void {
    this.aeRemaining = count;
    this.aeText = text;
  }

  setRefuseFraction(fraction: number): void {
    this.refuseFraction = checkFraction(fraction);
  }

  setAnswerDelayMs(ms: number): void {
    this.answerDelayMs = ms;
  }

  /** Everything applied, in order. */
  applied(): readonly MllpHisApplied[] {
    return this.appliedList;
  }

  /** Every AA/AR decision, in order. */
  decisions(): readonly MllpHisDecision[] {
    return this.decisionList;
  }

  /** Per key, the MSH-10s applied, in the order applied. */
  appliedByKey(): Map<string, string[]> {
    const byKey = new Map<string, string[]>();
    for (const a of this.appliedList) {
      const list = byKey.get(a.key) ?? [];
      list.push(a.controlId);
      byKey.set(a.key, list);
    }
    return byKey;
  }

  /** How many times each MSH-10 was received; more than 1 is a resend. */
  transmissions(): ReadonlyMap<string, number> {
    return this.transmissionCounts;
  }

  /** Receptions beyond the first, summed over every MSH-10. */
  resends(): number {
    let n = 0;
    for (const count of this.transmissionCounts.values()) n += count - 1;
    return n;
  }

  stats(): MllpHisStats {
    return { ...this.counters };
  }

  private accept(socket: net.Socket): void {
    if (this.down) {
      socket.destroy();
      return;
    }
    this.counters.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const framer = new MllpFramer();
    // Original mode: one message answered at a time per connection, in order.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = framer.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) queue = queue.then(() => this.handle(socket, frame));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async handle(socket: net.Socket, frame: Buffer): Promise<void> {
    this.counters.frames++;
    let message: Hl7Message | undefined;
    let charset = '';
    try {
      const decoded = decodeHl7(frame);
      charset = decoded.charset;
      message = Hl7Message.parse(decoded.text);
    } catch {
      message = undefined;
    }
    const controlId = message?.controlId ?? '';
    if (controlId !== '') this.transmissionCounts.set(controlId, (this.transmissionCounts.get(controlId) ?? 0) + 1);
    if (this.hang) {
      this.counters.unanswered++;
      return;
    }
    if (this.answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.answerDelayMs));

    const earlier = this.decided.get(controlId);
    if (earlier !== undefined) {
      this.counters.duplicates++;
      this.send(socket, earlier.answer);
      return;
    }
    if (message === undefined || controlId === '') {
      this.counters.errors++;
      this.send(socket, this.encode(undefined, { code: 'AE', text: 'message could not be parsed', fillerAppointmentId: '' }, '', charset));
      return;
    }
    if (this.aeRemaining > 0) {
      this.aeRemaining--;
      this.counters.errors++;
      this.send(socket, this.encode(message, { code: 'AE', text: this.aeText, fillerAppointmentId: '' }, '', charset));
      return;
    }

    const answer = this.decide(message);
    const bytes = this.encode(message, answer, message.get('ARQ-1.1'), charset);
    this.decided.set(controlId, { answer: bytes, decision: this.decisionList[this.decisionList.length - 1]! });
    if (this.dropAnswers) {
      socket.destroy();
      return;
    }
    this.send(socket, bytes);
  }

  /** Decides and applies one message; records the decision. */
  private decide(message: Hl7Message): HisAnswer {
    const now = Date.now();
    const messageType = `${message.messageType}^${message.triggerEvent}`;
    const key = message.get(this.keyField);
    const isBooking = messageType === 'SRM^S01';
    const slot = isBooking ? this.slotOf(message) : '';
    let answer: HisAnswer;
    if (this.refuseFraction > 0 && this.rng.chance(this.refuseFraction)) {
      answer = { code: 'AR', text: RANDOM_REFUSAL_REASON, fillerAppointmentId: '' };
    } else if (slot !== '' && this.slots.has(slot)) {
      answer = { code: 'AR', text: SLOT_TAKEN_REASON, fillerAppointmentId: '' };
    } else {
      const fillerAppointmentId = isBooking ? `${this.fillerIdPrefix}${String(++this.fillerSerial).padStart(8, '0')}` : '';
      if (slot !== '') this.slots.set(slot, message.controlId);
      this.appliedList.push({ controlId: message.controlId, key, messageType, appliedAtMs: now, fillerAppointmentId, slot });
      answer = { code: 'AA', text: '', fillerAppointmentId };
    }
    if (answer.code === 'AA') this.counters.applied++;
    else this.counters.refused++;
    this.decisionList.push({ controlId: message.controlId, key, messageType, code: answer.code, text: answer.text, decidedAtMs: now });
    return answer;
  }

  private slotOf(message: Hl7Message): string {
    const first = (paths: readonly string[]): string => paths.map((p) => message.get(p)).find((v) => v !== '') ?? '';
    const doctor = first(this.slotFields.doctor);
    const start = first(this.slotFields.start);
    return doctor === '' || start === '' ? '' : `${doctor}@${start}`;
  }

  private encode(original: Hl7Message | undefined, answer: HisAnswer, placerAppointmentId: string, charset: string): Buffer {
    const text = buildHisAnswer(original, answer, { controlId: `HIS${String(++this.answerSerial).padStart(10, '0')}`, now: new Date(), placerAppointmentId });
    return frameMllp(encodeHl7(text, charset));
  }

  private send(socket: net.Socket, bytes: Buffer): void {
    if (!socket.destroyed) socket.write(bytes);
  }

  private async closeListener(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function checkFraction(fraction: number): number {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`refuseFraction must be within 0..1, got ${fraction}`);
  return fraction;
}
