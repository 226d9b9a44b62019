// What an internet-hospital app (互联网医院) sends its hospital: patients registering
// (建档), booking outpatient slots (预约挂号) and paying for them (缴费), as JSON. A seeded
// set of patients, each going registration → booking → payment of that booking → next
// booking…, so several events share a patient key and their order matters. Slots are
// few enough that two patients sometimes pick the same one, which the HIS refuses.
// Pure: no I/O, no clock (the simulated time starts at `startTime` and advances per event).

import { ChineseIdentityGenerator, type ChineseIdentity } from '../chinese-identity.js';
import { SeededRandom, type Seed } from '../seeded-random.js';

export type InboundEventKind = 'registration' | 'booking' | 'payment';
export const INBOUND_EVENT_KINDS: readonly InboundEventKind[] = ['registration', 'booking', 'payment'];

/** The patient as the app knows them; `id` is the ordering key (keyPath `$.patient.id`). */
export interface AppPatient {
  id: string;
  name: string;
  mobile: string;
  idNumber: string;
  sex: 'M' | 'F';
  /** YYYY-MM-DD. */
  birthDate: string;
}

export interface AppBooking {
  type: 'booking';
  bookingId: string;
  patient: AppPatient;
  department: { code: string; name: string };
  doctor: { id: string; name: string; title: string };
  /** ISO-8601 in China Standard Time (+08:00), 15 minutes long. */
  slot: { start: string; end: string };
  /** 挂号费, yuan. */
  fee: number;
  createdAt: string;
}

export interface AppRegistration {
  type: 'registration';
  registrationId: string;
  patient: AppPatient & { address: string };
  createdAt: string;
}

export interface AppPayment {
  type: 'payment';
  paymentId: string;
  patient: Pick<AppPatient, 'id' | 'name'>;
  bookingId: string;
  /** Yuan, two decimals. */
  amount: number;
  currency: 'CNY';
  method: '微信' | '支付宝';
  /** The electronic invoice (电子发票). */
  invoice: { number: string; title: string };
  paidAt: string;
}

export type AppEventBody = AppBooking | AppRegistration | AppPayment;

export interface GeneratedInboundEvent {
  kind: InboundEventKind;
  /** The patient id: the event's ordering key. */
  key: string;
  body: AppEventBody;
}

export interface InboundEventGeneratorOptions {
  seed: Seed;
  /** Patients in the set. Default 50. */
  patients?: number;
  /** Simulated time of the first event. Default 2026-12-03T08:00:00+08:00. */
  startTime?: Date;
  /** Bookable 15-minute slots per doctor (over the next days). Default 32: small enough for collisions. */
  slotsPerDoctor?: number;
  /** Kinds to generate; a patient's next event of another kind is skipped. Default all three. */
  kinds?: readonly InboundEventKind[];
}

export const DEFAULT_APP_PATIENTS = 50;
export const DEFAULT_SLOTS_PER_DOCTOR = 32;
export const DEFAULT_APP_START_TIME = new Date('2026-12-03T00:00:00Z');

const CLINICS: readonly { code: string; name: string; fee: number }[] = [
  { code: '0301', name: '心血管内科', fee: 50 },
  { code: '0302', name: '呼吸与危重症医学科', fee: 50 },
  { code: '0303', name: '消化内科', fee: 30 },
  { code: '0304', name: '内分泌科', fee: 30 },
  { code: '0305', name: '神经内科', fee: 50 },
  { code: '0402', name: '骨科', fee: 30 },
  { code: '0501', name: '妇产科', fee: 30 },
  { code: '0601', name: '儿科', fee: 20 },
];
const TITLES: readonly (readonly [string, number])[] = [['主任医师', 2], ['副主任医师', 3], ['主治医师', 5]];
const TITLE_FEE_MULTIPLIER: Record<string, number> = { 主任医师: 2, 副主任医师: 1.5, 主治医师: 1 };
const DOCTORS_PER_CLINIC = 2;
const SLOT_MS = 15 * 60_000;
const CST_MS = 8 * 3_600_000;

interface PatientState {
  patient: AppPatient;
  address: string;
  registered: boolean;
  /** A booking made and not paid yet. */
  unpaid: AppBooking | undefined;
}

export class InboundEventGenerator {
  private readonly rng: SeededRandom;
  private readonly patients: PatientState[];
  private readonly doctors: { clinic: (typeof CLINICS)[number]; id: string; name: string; title: string }[];
  private readonly slotsPerDoctor: number;
  private readonly kinds: ReadonlySet<InboundEventKind>;
  private nowMs: number;
  private serial = 0;

  constructor(options: InboundEventGeneratorOptions) {
    this.rng = new SeededRandom(options.seed);
    const identities = new ChineseIdentityGenerator(this.rng.fork('patients'));
    const count = options.patients ?? DEFAULT_APP_PATIENTS;
    if (!(count >= 1)) throw new RangeError(`patients must be at least 1, got ${count}`);
    this.patients = Array.from({ length: count }, (_, i) => toState(identities.next(), i));
    const staff = this.rng.fork('doctors');
    const names = new ChineseIdentityGenerator(staff.fork('names'));
    this.doctors = CLINICS.flatMap((clinic) =>
      Array.from({ length: DOCTORS_PER_CLINIC }, (_, i) => ({ clinic, id: `D${clinic.code}${String(i + 1).padStart(2, '0')}`, name: names.name().full, title: staff.weighted(TITLES) })),
    );
    this.slotsPerDoctor = options.slotsPerDoctor ?? DEFAULT_SLOTS_PER_DOCTOR;
    this.kinds = new Set(options.kinds ?? INBOUND_EVENT_KINDS);
    if (this.kinds.size === 0) throw new RangeError('kinds must name at least one kind');
    this.nowMs = (options.startTime ?? DEFAULT_APP_START_TIME).getTime();
  }

  /** The next event: a patient's next step, of one of the kinds asked for. */
  next(): GeneratedInboundEvent {
    for (;;) {
      const state = this.rng.pick(this.patients);
      this.nowMs += this.rng.int(1_000, 20_000);
      const kind = this.nextKind(state);
      const body = this.make(kind, state);
      if (this.kinds.has(kind)) return { kind, key: state.patient.id, body };
    }
  }

  private nextKind(state: PatientState): InboundEventKind {
    if (!state.registered) return 'registration';
    if (state.unpaid !== undefined) return 'payment';
    return 'booking';
  }

  private make(kind: InboundEventKind, state: PatientState): AppEventBody {
    const serial = String(++this.serial).padStart(8, '0');
    const createdAt = isoCst(this.nowMs);
    switch (kind) {
      case 'registration':
        state.registered = true;
        return { type: 'registration', registrationId: `RG${serial}`, patient: { ...state.patient, address: state.address }, createdAt };
      case 'booking': {
        const doctor = this.rng.pick(this.doctors);
        // Slots from 08:00 next day, 15 minutes apart, over as many half-days as needed.
        const firstSlot = Math.floor((this.nowMs + CST_MS) / 86_400_000 + 1) * 86_400_000 - CST_MS + 8 * 3_600_000;
        const index = this.rng.int(0, this.slotsPerDoctor - 1);
        const day = Math.floor(index / 16);
        const startMs = firstSlot + day * 86_400_000 + (index % 16) * SLOT_MS;
        const fee = Math.round(doctor.clinic.fee * (TITLE_FEE_MULTIPLIER[doctor.title] ?? 1) * 100) / 100;
        const booking: AppBooking = {
          type: 'booking',
          bookingId: `YY${serial}`,
          patient: { ...state.patient },
          department: { code: doctor.clinic.code, name: doctor.clinic.name },
          doctor: { id: doctor.id, name: doctor.name, title: doctor.title },
          slot: { start: isoCst(startMs), end: isoCst(startMs + SLOT_MS) },
          fee,
          createdAt,
        };
        state.unpaid = booking;
        return booking;
      }
      case 'payment': {
        const booking = state.unpaid!;
        state.unpaid = undefined;
        return {
          type: 'payment',
          paymentId: `ZF${serial}`,
          patient: { id: state.patient.id, name: state.patient.name },
          bookingId: booking.bookingId,
          amount: booking.fee,
          currency: 'CNY',
          method: this.rng.chance(0.6) ? '微信' : '支付宝',
          invoice: { number: `FP${this.rng.digits(12)}`, title: state.patient.name },
          paidAt: createdAt,
        };
      }
    }
  }
}

function toState(identity: ChineseIdentity, index: number): PatientState {
  const b = identity.birthDate;
  return {
    patient: {
      id: `P${String(index + 1).padStart(6, '0')}`,
      name: identity.name.full,
      mobile: identity.mobile,
      idNumber: identity.residentId,
      sex: identity.sex,
      birthDate: `${b.slice(0, 4)}-${b.slice(4, 6)}-${b.slice(6, 8)}`,
    },
    address: identity.address.full,
    registered: false,
    unpaid: undefined,
  };
}

/** ISO-8601 with the +08:00 offset, seconds precision. */
function isoCst(ms: number): string {
  return new Date(ms + CST_MS).toISOString().slice(0, 19) + '+08:00';
}
