// Which presentation contexts the Storage SCP accepts, decided from what the
// modality proposes: Verification, and every storage SOP class — the ones
// dcmjs-dimse names and any other under 1.2.840.10008.5.1.4.1.1. (new storage
// classes appear every year; the SCP stores bytes, it need not know them) — each
// with the first transfer syntax proposed, so nothing is ever transcoded.
import dimse from 'dcmjs-dimse';

export const VERIFICATION_SOP_CLASS_UID = '1.2.840.10008.1.1';
const STORAGE_ROOT = '1.2.840.10008.5.1.4.1.1.';
const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
const KNOWN_STORAGE_CLASSES: ReadonlySet<string> = new Set(Object.values(dimse.constants.StorageClass as unknown as Record<string, string>));

export type ContextDecision =
  | { accept: true; transferSyntaxUid: string }
  | { accept: false; reason: 'abstract-syntax-not-supported' | 'transfer-syntaxes-not-supported' };

export function isStorageSopClass(uid: string): boolean {
  return KNOWN_STORAGE_CLASSES.has(uid) || uid.startsWith(STORAGE_ROOT);
}

/**
 * The answer to one proposed context. Deflated explicit VR little endian is
 * skipped (its header cannot be read without inflating the whole dataset): the
 * next syntax proposed is taken, and a context proposing only that is refused so
 * the sender uses another.
 */
export function decideContext(abstractSyntaxUid: string, transferSyntaxUids: readonly string[]): ContextDecision {
  if (abstractSyntaxUid !== VERIFICATION_SOP_CLASS_UID && !isStorageSopClass(abstractSyntaxUid)) return { accept: false, reason: 'abstract-syntax-not-supported' };
  const first = transferSyntaxUids.find((uid) => uid !== DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN);
  return first ? { accept: true, transferSyntaxUid: first } : { accept: false, reason: 'transfer-syntaxes-not-supported' };
}
