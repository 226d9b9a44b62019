// The downlink's test fixtures that several process-level tests and the bench
// share: a bookings channel delivered as SRM^S01 over MLLP to the simulated HIS,
// and the simulated internet hospital writing to a WardlinePair's relay.
import { InternetHospital, type InternetHospitalOptions } from '../../simulator/index.js';
import { PAIR_VENDOR_KEY, type WardlinePair } from './wardline-pair.js';

/** What the simulated HIS reads of a booking (simulator/his/mllp-his.ts): the patient, the doctor and the slot. */
export const BOOKING_MAPPING = { 'ARQ-1': '$.bookingId', 'PID-3.1': '$.patient.id', 'PID-5': '$.patient.name', 'AIP-3.1': '$.doctor.id', 'AIS-4.1': '$.slot.start' };

/** An agent.yaml `inbound:` entry: channel `bookings` from relay `cloud`, keyed by patient, into an MLLP HIS on `hisPort`. */
export function mllpBookingsChannel(hisPort: number, options: { channel?: Record<string, unknown>; sink?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    channel: 'bookings',
    relay: 'cloud',
    keyPath: '$.patient.id',
    ttl: '1h',
    ...options.channel,
    sink: { kind: 'mllp', address: `127.0.0.1:${hisPort}`, message: 'SRM^S01', mapping: BOOKING_MAPPING, ...options.sink },
  };
}

/** The simulated internet hospital writing bookings to the pair's relay with the pair's vendor key (granted `vendorInbound`). */
export function internetHospitalFor(pair: WardlinePair, hospital: string, options: Partial<InternetHospitalOptions> & Pick<InternetHospitalOptions, 'seed'>): InternetHospital {
  return new InternetHospital({ relayUrl: pair.relayHttp, hospital, vendorKey: PAIR_VENDOR_KEY, channels: { booking: 'bookings' }, ...options });
}
