// Admission under disk pressure: at critical, input from sources not marked
// critical is refused before anything is written, with a reason the sender's
// engineers can act on. Critical sources (a LIS with critical lab results) keep
// being accepted: the headroom below 100 % is theirs.
import type { AdmissionCheck } from '../sources/index.js';
import type { DiskState } from './disk-budget.js';

/** What admission reads from the disk watch. */
export interface DiskPressure {
  readonly state: DiskState;
  /** The threshold holding the state, e.g. "96.1% used (threshold 95%)". */
  readonly reason: string | null;
}

export interface DiskAdmissionOptions {
  disk: DiskPressure;
  /** Source names still accepted at critical (sources[].critical, "http" when http.critical). */
  criticalSources: ReadonlySet<string>;
}

/**
 * An AdmissionCheck: undefined (accept) unless the disk is critical and the source
 * is not critical. When the disk cannot be read the last known state holds (see
 * DiskWatch); the check itself never refuses for lack of a reading.
 */
export function createDiskAdmission(options: DiskAdmissionOptions): AdmissionCheck {
  return (source) => {
    if (options.disk.state !== 'critical' || options.criticalSources.has(source)) return undefined;
    return diskRefusal(options.disk.reason);
  };
}

/** The refusal text: HL7 AR (MSA-3 and ERR-8) and the HTTP 507 body carry it. */
export function diskRefusal(reason: string | null): string {
  return `disk critically full on the Wardline agent: ${reason ?? 'over the critical threshold'}; message not accepted, retry later`;
}
