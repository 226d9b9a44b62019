// The private attributes a feed keeps (`keepPrivateTags`), parsed once: either
// by private creator and element within its block, `(0019,"GEMS_ACQU_01",10)`,
// which holds wherever the modality placed the block (0019,10xx or 0019,11xx
// ...), or as a plain tag `(0019,1010)`, which holds only at that exact place.
import { DicomDeidError } from './errors.js';

export type PrivateTagSpec =
  | { kind: 'creator'; group: number; creator: string; element: number; text: string }
  | { kind: 'tag'; tag: number; text: string };

const BY_CREATOR = /^\(([0-9A-Fa-f]{4}),"([^"\\]{1,64})",([0-9A-Fa-f]{2})\)$/;
const BY_TAG = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/;

/**
 * @throws DicomDeidError naming the entry when it is neither form or not a private (odd) group.
 */
export function parsePrivateTagSpec(text: string): PrivateTagSpec {
  const creator = BY_CREATOR.exec(text.trim());
  const plain = BY_TAG.exec(text.trim());
  const group = parseInt((creator ?? plain)?.[1] ?? 'x', 16);
  if ((!creator && !plain) || Number.isNaN(group)) {
    throw new DicomDeidError(`keepPrivateTags: "${text}" is neither (gggg,"CREATOR",ee) nor (gggg,eeee)`, 'config');
  }
  if (group % 2 === 0) throw new DicomDeidError(`keepPrivateTags: "${text}" is not a private attribute (group ${creator?.[1] ?? plain?.[1]} is even)`, 'config');
  if (creator) return { kind: 'creator', group, creator: creator[2]!, element: parseInt(creator[3]!, 16), text };
  const element = parseInt(plain![2]!, 16);
  if (element < 0x1000) throw new DicomDeidError(`keepPrivateTags: "${text}" names a private creator or group length, not a private attribute (elements from 1000)`, 'config');
  return { kind: 'tag', tag: ((group << 16) | element) >>> 0, text };
}

/** Whether a private attribute (tag, and the creator of its block) is one the feed keeps. */
export function keepsPrivate(specs: readonly PrivateTagSpec[], tag: number, creator: string | undefined): boolean {
  const group = tag >>> 16;
  return specs.some((spec) =>
    spec.kind === 'tag' ? spec.tag === tag >>> 0 : spec.group === group && creator !== undefined && spec.creator === creator && spec.element === (tag & 0xff),
  );
}
