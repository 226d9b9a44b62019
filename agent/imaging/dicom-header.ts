// The header of a DICOM Part-10 file: its file meta group and the top-level
// attributes before Pixel Data, read from a prefix of the file (never the whole
// instance: a CT series is hundreds of MB of pixels behind a few KB of header).
// The Storage SCP reads the UIDs and patient fields it journals from it; the
// de-identification rewrites the attributes it returns and copies the bytes from
// `pixelDataOffset` on unchanged.
//
// A small tag walker rather than dcmjs: dcmjs parses a whole buffer and throws on
// one cut short, while here a prefix that ends inside an element simply means
// "read more". It reads the three uncompressed encodings a dataset comes in
// (implicit VR little endian, explicit VR little endian, explicit VR big endian);
// encapsulated (compressed) transfer syntaxes are explicit VR little endian up to
// the pixel data, so they read the same. Deflated datasets are refused: there is
// no prefix to read without inflating the whole stream.
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import iconv from 'iconv-lite';

export const IMPLICIT_VR_LITTLE_ENDIAN_UID = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN_UID = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN_UID = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BIG_ENDIAN_UID = '1.2.840.10008.1.2.2';
/** The top-level tag whose element ends the header: (7FE0,0010) Pixel Data. */
export const PIXEL_DATA_TAG = '7FE00010';

/** The first read; doubled while the header is longer, up to `maxHeaderBytes`. */
const FIRST_READ_BYTES = 64 * 1024;
/** Headers larger than this are refused (a real one is kilobytes; a huge sequence is not a header). */
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024 * 1024;
const PREAMBLE_BYTES = 128;
const UNDEFINED_LENGTH = 0xffffffff;
/** VRs whose explicit encoding has a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
/** VRs whose text is in the Specific Character Set; all other text is ASCII (PS3.5 6.1.2.3). */
const CHARSET_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);
const TEXT_VRS = new Set([...CHARSET_VRS, 'AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'TM', 'UI', 'UR']);

/** One top-level element as it lies in the file. */
export interface DicomHeaderElement {
  /** Group and element as 8 upper-case hex digits, e.g. "0020000D". */
  tag: string;
  /** As encoded (explicit VR), or from the data dictionary for implicit VR ("UN" when unknown, "SQ" for an undefined length). */
  vr: string;
  /** File offset where the element's tag starts. */
  offset: number;
  /** File offset just past the element (past its sequence delimiter for an undefined length). */
  end: number;
  /** The value's bytes as encoded (for a sequence: its items, delimiters included). */
  value: Buffer;
}

/** What the file meta group says and where the dataset starts. */
export interface DicomFileMeta {
  /** (0002,0002) */
  mediaStorageSopClassUid: string;
  /** (0002,0003) */
  mediaStorageSopInstanceUid: string;
  /** (0002,0010): the dataset's encoding. */
  transferSyntaxUid: string;
  /** The meta group's own elements, in file order. */
  elements: DicomHeaderElement[];
}

/** A Part-10 file's header: the meta group and the dataset's top-level attributes before Pixel Data. */
export interface DicomHeader {
  meta: DicomFileMeta;
  /** = meta.transferSyntaxUid. */
  transferSyntaxUid: string;
  /** (0008,0005) as written (backslash-separated for code extensions); "" when absent (default repertoire). */
  specificCharacterSet: string;
  /** File offset of the first dataset element (just past the meta group). */
  datasetOffset: number;
  /** File offset where the top-level (7FE0,0010) element's tag starts; null when the dataset has none. */
  pixelDataOffset: number | null;
  /**
   * File offset just past the Pixel Data value when its length is defined (native
   * pixels); null when there is no Pixel Data or its length is undefined
   * (encapsulated fragments, which end with a sequence delimiter). A file shorter
   * than this is truncated.
   */
  pixelDataEnd: number | null;
  /** The dataset's top-level elements before Pixel Data, in file order. */
  elements: DicomHeaderElement[];
  /** The element with this tag (8 hex digits, any case), or undefined. */
  element(tag: string): DicomHeaderElement | undefined;
  /**
   * A text attribute's value decoded (Specific Character Set for PN, LO, SH, ST,
   * LT, UC, UT), trailing padding (spaces, NUL) removed; undefined when absent.
   */
  text(tag: string): string | undefined;
}

/** The file is not a Part-10 file this reader understands; the message names what and where. */
export class DicomHeaderError extends Error {
  override readonly name = 'DicomHeaderError';
}

/** The prefix ended inside the header: read more. */
class NeedMoreBytes extends Error {}

export interface ReadDicomHeaderOptions {
  /** Refuse a header (meta group + attributes before Pixel Data) longer than this. Default 64 MiB. */
  maxHeaderBytes?: number;
}

/**
 * Reads the header of the Part-10 file at `path`, reading only as much of the
 * file as the header needs. Rejects with DicomHeaderError for a file that is not
 * Part 10, is truncated inside its header, or uses an encoding this cannot walk.
 */
export async function readDicomHeader(path: string, options: ReadDicomHeaderOptions = {}): Promise<DicomHeader> {
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    let want = Math.min(FIRST_READ_BYTES, size);
    for (;;) {
      const prefix = Buffer.allocUnsafe(want);
      let filled = 0;
      while (filled < want) {
        const { bytesRead } = await file.read(prefix, filled, want - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      const complete = filled >= size;
      try {
        return parseDicomHeader(prefix.subarray(0, filled), { complete });
      } catch (error) {
        if (!(error instanceof NeedMoreBytes)) throw error;
        if (complete) throw new DicomHeaderError(`${path}: ${error.message}`);
        if (want >= maxHeaderBytes) throw new DicomHeaderError(`${path}: the header is longer than ${maxHeaderBytes} bytes (no Pixel Data within it)`);
        want = Math.min(want * 2, size, maxHeaderBytes);
      }
    }
  } finally {
    await file.close();
  }
}

/**
 * Parses the header from the first bytes of a Part-10 file. `complete: true`
 * says `bytes` is the whole file (a dataset without Pixel Data ends at its end);
 * otherwise a prefix that ends before Pixel Data throws an internal "need more"
 * error that readDicomHeader answers by reading further — callers with a
 * prefix of their own should pass the whole file or use readDicomHeader.
 */
export function parseDicomHeader(bytes: Buffer, options: { complete: boolean }): DicomHeader {
  if (bytes.length < PREAMBLE_BYTES + 4) {
    if (options.complete) throw new DicomHeaderError(`not a DICOM Part-10 file: ${bytes.length} bytes, shorter than the 128-byte preamble and "DICM"`);
    throw new NeedMoreBytes('the preamble is cut short');
  }
  if (bytes.toString('latin1', PREAMBLE_BYTES, PREAMBLE_BYTES + 4) !== 'DICM') {
    throw new DicomHeaderError('not a DICOM Part-10 file: no "DICM" after the 128-byte preamble');
  }
  const truncated = (what: string): never => {
    if (options.complete) throw new DicomHeaderError(`truncated: the file ends inside ${what}`);
    throw new NeedMoreBytes(`the prefix ends inside ${what}`);
  };

  // The meta group is always explicit VR little endian (PS3.10 7.1).
  const metaWalker = new Walker(bytes, { littleEndian: true, explicit: true }, truncated);
  const metaElements: DicomHeaderElement[] = [];
  let offset = PREAMBLE_BYTES + 4;
  while (offset + 2 <= bytes.length || !options.complete) {
    if (offset + 2 > bytes.length) truncated('the file meta group');
    if (bytes.readUInt16LE(offset) !== 0x0002) break;
    const element = metaWalker.element(offset);
    metaElements.push(element);
    offset = element.end;
  }
  const metaText = (tag: string): string | undefined => {
    const found = metaElements.find((e) => e.tag === tag);
    return found === undefined ? undefined : trimText(found.value.toString('latin1'));
  };
  const transferSyntaxUid = metaText('00020010');
  if (!transferSyntaxUid) throw new DicomHeaderError('the file meta group has no (0002,0010) Transfer Syntax UID');
  const meta: DicomFileMeta = {
    mediaStorageSopClassUid: metaText('00020002') ?? '',
    mediaStorageSopInstanceUid: metaText('00020003') ?? '',
    transferSyntaxUid,
    elements: metaElements,
  };
  const datasetOffset = offset;

  const walker = new Walker(bytes, encodingOf(transferSyntaxUid), truncated);
  const elements: DicomHeaderElement[] = [];
  let pixelDataOffset: number | null = null;
  let pixelDataEnd: number | null = null;
  while (offset < bytes.length || !options.complete) {
    if (offset + 4 > bytes.length) truncated(`the element at byte ${offset}`);
    const tag = walker.tagAt(offset);
    if (tag === PIXEL_DATA_TAG) {
      pixelDataOffset = offset;
      pixelDataEnd = walker.valueEnd(offset);
      break;
    }
    // Trailing padding (FFFC,FFFC) and anything after Pixel Data is not header.
    const element = walker.element(offset);
    elements.push(element);
    offset = element.end;
  }

  const byTag = new Map(elements.map((e) => [e.tag, e]));
  const specificCharacterSet = byTag.has('00080005') ? trimText(byTag.get('00080005')!.value.toString('latin1')) : '';
  const encoding = textEncoding(specificCharacterSet);
  return {
    meta,
    transferSyntaxUid,
    specificCharacterSet,
    datasetOffset,
    pixelDataOffset,
    pixelDataEnd,
    elements,
    element: (tag) => byTag.get(tag.toUpperCase()),
    text: (tag) => {
      const found = byTag.get(tag.toUpperCase());
      if (found === undefined) return undefined;
      const decoded = CHARSET_VRS.has(found.vr) || found.vr === 'UN' ? iconv.decode(found.value, encoding) : found.value.toString('latin1');
      return trimText(decoded);
    },
  };
}

/** Whether a VR holds text `text()` can decode. */
export function isTextVr(vr: string): boolean {
  return TEXT_VRS.has(vr);
}

interface Encoding {
  littleEndian: boolean;
  explicit: boolean;
}

function encodingOf(transferSyntaxUid: string): Encoding {
  if (transferSyntaxUid === IMPLICIT_VR_LITTLE_ENDIAN_UID) return { littleEndian: true, explicit: false };
  if (transferSyntaxUid === EXPLICIT_VR_BIG_ENDIAN_UID) return { littleEndian: false, explicit: true };
  if (transferSyntaxUid === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN_UID) {
    throw new DicomHeaderError(`transfer syntax ${transferSyntaxUid} (deflated) cannot be read from a prefix`);
  }
  // Explicit VR little endian and every encapsulated syntax (PS3.5 A.4).
  return { littleEndian: true, explicit: true };
}

const require = createRequire(import.meta.url);
/** The data dictionary, for the VR of an implicit-VR element. */
const dictionary = (require('dcmjs') as { data: { DicomMetaDictionary: { dictionary: Record<string, { vr?: string } | undefined> } } }).data.DicomMetaDictionary
  .dictionary;

function dictionaryVr(tag: string): string {
  if (tag.endsWith('0000')) return 'UL'; // group length
  const group = parseInt(tag.slice(0, 4), 16);
  if (group % 2 === 1) return 'UN'; // private
  const vr = dictionary[`(${tag.slice(0, 4)},${tag.slice(4)})`]?.vr ?? dictionary[`(${tag.slice(0, 2)}xx,${tag.slice(4)})`]?.vr;
  // Attributes the dictionary gives two VRs ("US or SS", "OB or OW") read as the first: the bytes are the same.
  return vr ? vr.slice(0, 2) : 'UN';
}

/** Reads elements of one encoding from a buffer; `truncated` is called when one runs past its end. */
class Walker {
  constructor(
    private readonly bytes: Buffer,
    private readonly encoding: Encoding,
    private readonly truncated: (what: string) => never,
  ) {}

  private u16(at: number): number {
    return this.encoding.littleEndian ? this.bytes.readUInt16LE(at) : this.bytes.readUInt16BE(at);
  }

  private u32(at: number): number {
    return this.encoding.littleEndian ? this.bytes.readUInt32LE(at) : this.bytes.readUInt32BE(at);
  }

  private need(at: number, what: string): void {
    if (at > this.bytes.length) this.truncated(what);
  }

  tagAt(at: number): string {
    this.need(at + 4, `the tag at byte ${at}`);
    return hex4(this.u16(at)) + hex4(this.u16(at + 2));
  }

  /** Where the value of the element at `at` ends, from its header alone; null for an undefined length. */
  valueEnd(at: number): number | null {
    const { length, valueOffset } = this.lengthAt(at, `the Pixel Data element at byte ${at}`);
    return length === UNDEFINED_LENGTH ? null : valueOffset + length;
  }

  /** The element header at `at`: its explicit VR (null in implicit VR), value length and where the value starts. */
  private lengthAt(at: number, where: string): { vr: string | null; length: number; valueOffset: number } {
    this.need(at + 8, where);
    if (!this.encoding.explicit) return { vr: null, length: this.u32(at + 4), valueOffset: at + 8 };
    const vr = this.bytes.toString('latin1', at + 4, at + 6);
    if (!LONG_VRS.has(vr)) return { vr, length: this.u16(at + 6), valueOffset: at + 8 };
    this.need(at + 12, where);
    return { vr, length: this.u32(at + 8), valueOffset: at + 12 };
  }

  /** The element whose tag starts at `at`. */
  element(at: number): DicomHeaderElement {
    const tag = this.tagAt(at);
    const where = `element (${tag.slice(0, 4)},${tag.slice(4)}) at byte ${at}`;
    const { vr: explicitVr, length, valueOffset } = this.lengthAt(at, where);
    if (explicitVr !== null && !/^[A-Z]{2}$/.test(explicitVr)) throw new DicomHeaderError(`${where} has no valid VR ("${printable(explicitVr)}"): the dataset is not in its declared encoding or is damaged`);
    const vr = explicitVr ?? (length === UNDEFINED_LENGTH ? 'SQ' : dictionaryVr(tag));
    let end: number;
    if (length === UNDEFINED_LENGTH) {
      if (vr !== 'SQ' && vr !== 'UN' && vr !== 'OB' && vr !== 'OW') throw new DicomHeaderError(`${where} has an undefined length, which its VR ${vr} cannot have`);
      // UN with undefined length holds an implicit VR little endian sequence (PS3.5 6.2.2).
      const inner = vr === 'UN' ? new Walker(this.bytes, { littleEndian: true, explicit: false }, this.truncated) : this;
      end = inner.skipSequence(valueOffset, where);
    } else {
      // Odd lengths break PS3.5 7.1.1 but some devices write them: the bytes are taken as they are.
      end = valueOffset + length;
      this.need(end, where);
    }
    return { tag, vr, offset: at, end, value: this.bytes.subarray(valueOffset, end) };
  }

  /** Skips the items of an undefined-length sequence starting at `at`; returns the offset past its delimiter. */
  private skipSequence(at: number, where: string): number {
    let offset = at;
    for (;;) {
      const tag = this.tagAt(offset);
      this.need(offset + 8, where);
      const length = this.u32(offset + 4);
      offset += 8;
      if (tag === 'FFFEE0DD') return offset; // sequence delimitation
      if (tag !== 'FFFEE000') throw new DicomHeaderError(`${where}: expected an item (FFFE,E000) inside the sequence at byte ${offset - 8}, found (${tag.slice(0, 4)},${tag.slice(4)})`);
      if (length !== UNDEFINED_LENGTH) {
        offset += length;
        this.need(offset, where);
        continue;
      }
      // An item of undefined length: its elements, then the item delimitation.
      for (;;) {
        if (this.tagAt(offset) === 'FFFEE00D') {
          offset += 8;
          this.need(offset, where);
          break;
        }
        offset = this.element(offset).end;
      }
    }
  }
}

function hex4(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, '0');
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

/** Drops the padding DICOM puts after a value (space for text, NUL for UIDs). */
function trimText(text: string): string {
  return text.replace(/[\0 ]+$/, '');
}

/**
 * iconv-lite's name for the first (or only) character set a Specific Character Set
 * names (PS3.3 C.12.1.1.2); the de-identifier decodes with the same table
 * (policy/dicom/character-set.ts). An ISO 2022 code extension reads as its base
 * set ("ISO 2022 IR 100" as ISO_IR 100); one iconv-lite cannot decode (ISO 2022
 * IR 87, IR 58 with escapes) falls back to latin1, byte for byte.
 */
export function textEncoding(specificCharacterSet: string): string {
  const first = specificCharacterSet.split('\\').map((s) => s.trim()).find((s) => s.length > 0) ?? '';
  const term = first.replace(/^ISO 2022 IR /, 'ISO_IR ').replace(/ /g, '_');
  const table: Record<string, string> = {
    '': 'latin1',
    ISO_IR_6: 'latin1',
    ISO_IR_100: 'latin1',
    ISO_IR_101: 'iso-8859-2',
    ISO_IR_109: 'iso-8859-3',
    ISO_IR_110: 'iso-8859-4',
    ISO_IR_144: 'iso-8859-5',
    ISO_IR_127: 'iso-8859-6',
    ISO_IR_126: 'iso-8859-7',
    ISO_IR_138: 'iso-8859-8',
    ISO_IR_148: 'iso-8859-9',
    ISO_IR_203: 'iso-8859-15',
    ISO_IR_13: 'shift_jis',
    ISO_IR_166: 'tis-620',
    ISO_IR_192: 'utf8',
    GB18030: 'gb18030',
    GBK: 'gbk',
    ISO_IR_87: 'iso-2022-jp',
    ISO_IR_149: 'euc-kr',
    ISO_IR_58: 'gb2312',
  };
  const name = table[term] ?? 'latin1';
  return iconv.encodingExists(name) ? name : 'latin1';
}
