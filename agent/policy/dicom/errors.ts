// Errors of DICOM de-identification. An instance that cannot be de-identified
// never leaves as it is: the transform rejects, the feed holds the event and
// its status says why (the message names the instance and the reason).
import { CodedError } from '../../../protocol/index.js';

export const DicomDeidErrorCode = {
  /** The instance's transfer syntax is deflated or big endian: the de-identifier rewrites only little-endian datasets. Have the modality or PACS send explicit or implicit VR little endian (or a compressed syntax). */
  UNSUPPORTED_SYNTAX: 'WL_POLICY_DICOM_UNSUPPORTED_SYNTAX',
  /** The archived instance is not a readable Part-10 file (no DICM, a length past its end). Re-send it from the PACS; the message names the byte. */
  UNREADABLE: 'WL_POLICY_DICOM_UNREADABLE',
  /** `policy.dicom` is wrong (a keepPrivateTags entry, no pseudonym key): fix the config; the agent does not start. */
  CONFIG: 'WL_POLICY_DICOM_CONFIG',
} as const;
export type DicomDeidErrorCode = (typeof DicomDeidErrorCode)[keyof typeof DicomDeidErrorCode];

const BY_KIND = { syntax: DicomDeidErrorCode.UNSUPPORTED_SYNTAX, unreadable: DicomDeidErrorCode.UNREADABLE, config: DicomDeidErrorCode.CONFIG } as const;

export class DicomDeidError extends CodedError<DicomDeidErrorCode> {
  override name = 'DicomDeidError';
  constructor(
    message: string,
    readonly kind: keyof typeof BY_KIND,
    options?: { cause?: unknown },
  ) {
    super(message, BY_KIND[kind], options);
  }
}
