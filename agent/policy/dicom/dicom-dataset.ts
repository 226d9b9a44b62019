// A DICOM dataset as the de-identifier rewrites it: the elements before Pixel
// Data, parsed from a file prefix into a tree (sequences → items → elements)
// that keeps every value's bytes as they were, and written back in the same
// transfer syntax. Only little-endian syntaxes: explicit VR (every syntax but
// two, encapsulated ones included, since their dataset is explicit VR LE) and
// implicit VR. Deflated and big-endian datasets are refused by the caller.
//
// Failure modes handled:
//  1. A prefix that ends inside an element: NeedMoreBytes, so the caller reads
//     more of the instance and parses again (no partial tree is ever used).
//  2. Lengths that point past the end of an item or are odd where they cannot
//     be: DicomDatasetError naming the tag and offset.
//  3. Implicit VR: the VR comes from the standard dictionary (dcmjs), UN for
//     private or unknown tags; an undefined length always means a sequence.
//  4. UN with undefined length in explicit VR (PS3.5 6.2.2): its items are
//     implicit VR little endian and are parsed and written as such.
import { createRequire } from 'node:module';

/** Tags as a 32-bit number: group << 16 | element. */
export const PIXEL_DATA = 0x7fe00010;
const FLOAT_PIXEL_DATA = 0x7fe00008;
const DOUBLE_FLOAT_PIXEL_DATA = 0x7fe00009;
const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const UNDEFINED_LENGTH = 0xffffffff;

/** VRs whose explicit header has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export interface DicomElement {
  tag: number;
  vr: string;
  /** The value's bytes as read (absent for a sequence). */
  value?: Buffer;
  /** A sequence's items, each a list of elements. */
  items?: DicomElement[][];
  /** Items encoded implicit VR (a UN sequence in an explicit dataset, or an implicit dataset). */
  implicitItems?: boolean;
}

export interface ParsedDataset {
  elements: DicomElement[];
  /** Offset, within the bytes given, where top-level Pixel Data starts; undefined when the dataset has none (it ended). */
  pixelDataOffset?: number;
}

/** The prefix ended inside an element: read more and parse again. */
export class NeedMoreBytes extends Error {
  override name = 'NeedMoreBytes';
}

export class DicomDatasetError extends Error {
  override name = 'DicomDatasetError';
}

export function tagText(tag: number): string {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

// dcmjs ships no types; only its data dictionary is used (the VR of an implicit-VR element).
const require = createRequire(import.meta.url);
const dictionary = (require('dcmjs') as { data: { DicomMetaDictionary: { dictionary: Record<string, { vr?: string } | undefined> } } }).data.DicomMetaDictionary.dictionary;

/** The dictionary VR of a standard tag (the first when it has several); UN for private or unknown ones. */
export function dictionaryVr(tag: number): string {
  if ((tag >>> 16) % 2 === 1) return 'UN';
  const text = tagText(tag);
  // Repeating groups (overlays 60xx, curves 50xx) are in the dictionary as "(60xx,3000)".
  const vr = dictionary[text]?.vr ?? dictionary[`(${text.slice(1, 3)}xx,${text.slice(6, 10)})`]?.vr;
  if (!vr) return 'UN';
  // "US or SS", "OB or OW": the first is the one implicit VR readers assume too.
  return vr.slice(0, 2);
}

/**
 * Parses the top-level elements from `start` until top-level Pixel Data (any of
 * its three forms) or the end of `bytes`.
 * @param complete true when `bytes` holds the whole rest of the instance (no more to read).
 * @throws NeedMoreBytes when `bytes` ends inside an element and more may come.
 */
export function parseDataset(bytes: Buffer, start: number, implicit: boolean, complete: boolean): ParsedDataset {
  const reader = new Reader(bytes, complete);
  const elements: DicomElement[] = [];
  let offset = start;
  while (offset < bytes.length) {
    const tag = reader.tagAt(offset);
    if (tag === PIXEL_DATA || tag === FLOAT_PIXEL_DATA || tag === DOUBLE_FLOAT_PIXEL_DATA) return { elements, pixelDataOffset: offset };
    // Trailing padding of a file that is only a dataset: ends it.
    if (tag === 0xfffcfffc) break;
    const { element, end } = reader.element(offset, implicit, bytes.length);
    elements.push(element);
    offset = end;
  }
  if (!complete) throw new NeedMoreBytes();
  return { elements };
}

class Reader {
  constructor(
    private readonly bytes: Buffer,
    private readonly complete: boolean,
  ) {}

  private need(offset: number, length: number, limit: number): void {
    if (offset + length <= limit) return;
    if (limit === this.bytes.length && !this.complete) throw new NeedMoreBytes();
    throw new DicomDatasetError(`element at byte ${offset} runs past the end of its ${limit === this.bytes.length ? 'file' : 'item'} (needs ${length} bytes)`);
  }

  tagAt(offset: number): number {
    this.need(offset, 4, this.bytes.length);
    return ((this.bytes.readUInt16LE(offset) << 16) | this.bytes.readUInt16LE(offset + 2)) >>> 0;
  }

  element(offset: number, implicit: boolean, limit: number): { element: DicomElement; end: number } {
    this.need(offset, 8, limit);
    const tag = this.tagAt(offset);
    let vr: string;
    let length: number;
    let valueStart: number;
    if (implicit) {
      vr = dictionaryVr(tag);
      length = this.bytes.readUInt32LE(offset + 4);
      valueStart = offset + 8;
      if (length === UNDEFINED_LENGTH) vr = 'SQ';
    } else {
      vr = this.bytes.toString('latin1', offset + 4, offset + 6);
      if (!/^[A-Z]{2}$/.test(vr)) throw new DicomDatasetError(`element ${tagText(tag)} at byte ${offset} has no valid VR ("${vr}"): not explicit VR little endian`);
      if (LONG_VRS.has(vr)) {
        this.need(offset, 12, limit);
        length = this.bytes.readUInt32LE(offset + 8);
        valueStart = offset + 12;
      } else {
        length = this.bytes.readUInt16LE(offset + 6);
        valueStart = offset + 8;
      }
    }
    if (vr === 'SQ' || (vr === 'UN' && length === UNDEFINED_LENGTH)) {
      const itemsImplicit = implicit || vr === 'UN';
      const { items, end } = this.items(valueStart, length, itemsImplicit, limit, tag);
      return { element: { tag, vr, items, implicitItems: itemsImplicit }, end };
    }
    if (length === UNDEFINED_LENGTH) throw new DicomDatasetError(`element ${tagText(tag)} at byte ${offset} has an undefined length but is not a sequence`);
    this.need(valueStart, length, limit);
    return { element: { tag, vr, value: this.bytes.subarray(valueStart, valueStart + length) }, end: valueStart + length };
  }

  private items(start: number, length: number, implicit: boolean, limit: number, sequenceTag: number): { items: DicomElement[][]; end: number } {
    const items: DicomElement[][] = [];
    const sequenceEnd = length === UNDEFINED_LENGTH ? limit : start + length;
    if (length !== UNDEFINED_LENGTH) this.need(start, length, limit);
    let offset = start;
    for (;;) {
      if (length !== UNDEFINED_LENGTH && offset >= sequenceEnd) return { items, end: sequenceEnd };
      this.need(offset, 8, sequenceEnd);
      const tag = this.tagAt(offset);
      const itemLength = this.bytes.readUInt32LE(offset + 4);
      offset += 8;
      if (tag === SEQUENCE_DELIMITATION) return { items, end: offset };
      if (tag !== ITEM) throw new DicomDatasetError(`sequence ${tagText(sequenceTag)} holds ${tagText(tag)} at byte ${offset - 8} where an item was expected`);
      const item: DicomElement[] = [];
      const itemEnd = itemLength === UNDEFINED_LENGTH ? sequenceEnd : offset + itemLength;
      if (itemLength !== UNDEFINED_LENGTH) this.need(offset, itemLength, sequenceEnd);
      for (;;) {
        if (itemLength !== UNDEFINED_LENGTH && offset >= itemEnd) break;
        this.need(offset, 8, itemEnd);
        if (this.tagAt(offset) === ITEM_DELIMITATION) {
          offset += 8;
          break;
        }
        const { element, end } = this.element(offset, implicit, itemEnd);
        item.push(element);
        offset = end;
      }
      items.push(item);
    }
  }
}

/** Writes elements in order: explicit or implicit VR little endian; sequences and items with undefined length. */
export function writeElements(elements: readonly DicomElement[], implicit: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const element of elements) writeElement(element, implicit, parts);
  return Buffer.concat(parts);
}

function header(tag: number, vr: string, length: number, implicit: boolean): Buffer {
  const long = LONG_VRS.has(vr);
  const head = Buffer.alloc(implicit ? 8 : long ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  if (implicit) {
    head.writeUInt32LE(length >>> 0, 4);
  } else {
    head.write(vr, 4, 'latin1');
    if (long) head.writeUInt32LE(length >>> 0, 8);
    else {
      if (length > 0xffff) throw new DicomDatasetError(`value of ${tagText(tag)} (${vr}) is ${length} bytes: too long for its VR`);
      head.writeUInt16LE(length, 6);
    }
  }
  return head;
}

function marker(tag: number, length: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16LE(tag >>> 16, 0);
  out.writeUInt16LE(tag & 0xffff, 2);
  out.writeUInt32LE(length >>> 0, 4);
  return out;
}

function writeElement(element: DicomElement, implicit: boolean, parts: Buffer[]): void {
  if (element.items) {
    parts.push(header(element.tag, element.vr, UNDEFINED_LENGTH, implicit));
    const itemsImplicit = element.implicitItems ?? implicit;
    for (const item of element.items) {
      parts.push(marker(ITEM, UNDEFINED_LENGTH));
      for (const inner of item) writeElement(inner, itemsImplicit, parts);
      parts.push(marker(ITEM_DELIMITATION, 0));
    }
    parts.push(marker(SEQUENCE_DELIMITATION, 0));
    return;
  }
  const value = element.value ?? Buffer.alloc(0);
  parts.push(header(element.tag, element.vr, value.length, implicit), value);
}

/**
 * The file meta group of a Part-10 file (explicit VR little endian always):
 * after the 128-byte preamble and "DICM", every (0002,xxxx) element.
 * @throws NeedMoreBytes when the prefix ends inside it; DicomDatasetError when it is no Part-10 file.
 */
export function parseFileMeta(bytes: Buffer, complete: boolean): { elements: DicomElement[]; end: number } {
  if (bytes.length < 132) {
    if (!complete) throw new NeedMoreBytes();
    throw new DicomDatasetError(`not a DICOM Part-10 file: ${bytes.length} bytes, no "DICM" at byte 128`);
  }
  if (bytes.toString('latin1', 128, 132) !== 'DICM') throw new DicomDatasetError('not a DICOM Part-10 file: no "DICM" at byte 128');
  const reader = new Reader(bytes, complete);
  const elements: DicomElement[] = [];
  let offset = 132;
  while (offset + 4 <= bytes.length || !complete) {
    if (offset + 4 > bytes.length) throw new NeedMoreBytes();
    if (reader.tagAt(offset) >>> 16 !== 0x0002) break;
    const { element, end } = reader.element(offset, false, bytes.length);
    elements.push(element);
    offset = end;
  }
  return { elements, end: offset };
}
