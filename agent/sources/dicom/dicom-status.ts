// The C-STORE answers the SCP gives (PS3.4 Annex B.2.3, PS3.7 Annex C) and the
// rejection kind each one is reported with in the source's status.
import type { RejectionKind } from '../rejection-kind.js';

export const DicomStatus = {
  SUCCESS: 0x0000,
  /** Refused: Out of Resources — the disk is critically full, or the archive could not take the instance. */
  OUT_OF_RESOURCES: 0xa700,
  /** Error: Cannot Understand — the dataset cannot be parsed or contradicts its command. */
  CANNOT_UNDERSTAND: 0xc000,
  /** Failure: Processing Failure — the journal could not record the instance. */
  PROCESSING_FAILURE: 0x0110,
} as const;
export type DicomStatusCode = (typeof DicomStatus)[keyof typeof DicomStatus];

/** Why an instance or an association was refused, in this source's terms. */
export type DicomRefusal = 'disk-critical' | 'unparseable' | 'uid-mismatch' | 'archive-failed' | 'journal-failed' | 'write-failed' | 'called-ae' | 'calling-ae';

const KINDS: Readonly<Record<DicomRefusal, RejectionKind>> = {
  'disk-critical': 'disk-full',
  unparseable: 'bad-request',
  'uid-mismatch': 'bad-request',
  'archive-failed': 'internal',
  'journal-failed': 'internal',
  'write-failed': 'internal',
  'called-ae': 'forbidden',
  'calling-ae': 'unauthorized',
};

/** The stable rejection kind the dashboard translates, for a DICOM refusal. */
export function dicomRejectionKind(refusal: DicomRefusal): RejectionKind {
  return KINDS[refusal];
}

/** (0000,0902) Error Comment is LO: at most 64 characters. */
export function errorComment(reason: string): string {
  return reason.length <= 64 ? reason : `${reason.slice(0, 61)}...`;
}
