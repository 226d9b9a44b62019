// DICOM Part-10 files for the imaging tests, written here (explicit VR little
// endian) so no test data is downloaded. Pixel data is an AES-CTR keystream
// seeded by the SOP Instance UID: unique per instance (so no two instances share
// a chunk by accident and dedupe figures mean something), reproducible, and
// streamed to disk in slices, so a multi-frame instance of hundreds of MB never
// sits in memory. dcmtk's dcmdump reads every file this writes.
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import iconv from 'iconv-lite';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
export const SECONDARY_CAPTURE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';
/** Our test root (2.25 = UUID-derived, PS3.5 B.2); real UIDs of a test study hang under it. */
const TEST_UID_ROOT = '2.25.1234567890';

/** One attribute to write: tag as 8 hex digits ("00100010"), its VR and its value (text, numbers for US/UL, bytes for OB/OW/UN). */
export interface DicomElement {
  tag: string;
  vr: string;
  value: string | number | number[] | Buffer;
}

export interface TestInstance {
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  sopClassUid?: string;
  patientId?: string;
  /** Written in the character set `charset` names. */
  patientName?: string;
  /** (0008,0005): "GB18030" encodes names in GB18030; default ISO_IR 192 (UTF-8). */
  charset?: 'GB18030' | 'ISO_IR 192' | 'ISO_IR 100';
  modality?: string;
  studyDate?: string;
  rows?: number;
  columns?: number;
  frames?: number;
  /** More attributes (identifying ones for the de-identification tests, private tags). */
  extra?: DicomElement[];
}

/** UIDs for a test study: study, its series, and the nth instance of a series. */
export function testUids(study: number): { studyUid: string; seriesUid: (series: number) => string; sopInstanceUid: (series: number, instance: number) => string } {
  return {
    studyUid: `${TEST_UID_ROOT}.${study}`,
    seriesUid: (series) => `${TEST_UID_ROOT}.${study}.${series}`,
    sopInstanceUid: (series, instance) => `${TEST_UID_ROOT}.${study}.${series}.${instance}`,
  };
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'OD', 'OL', 'SQ', 'UC', 'UN', 'UR', 'UT']);
const PIXEL_SLICE_BYTES = 4 * 1024 * 1024;

function tagBytes(tag: string): Buffer {
  const group = parseInt(tag.slice(0, 4), 16);
  const element = parseInt(tag.slice(4, 8), 16);
  const out = Buffer.alloc(4);
  out.writeUInt16LE(group, 0);
  out.writeUInt16LE(element, 2);
  return out;
}

function valueBytes(element: DicomElement, encoding: string): Buffer {
  const { vr, value } = element;
  if (Buffer.isBuffer(value)) return value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.from([0])]);
  if (vr === 'US' || vr === 'UL') {
    const values = Array.isArray(value) ? value : [Number(value)];
    const size = vr === 'US' ? 2 : 4;
    const out = Buffer.alloc(values.length * size);
    values.forEach((v, i) => (vr === 'US' ? out.writeUInt16LE(v, i * size) : out.writeUInt32LE(v, i * size)));
    return out;
  }
  const text = String(value);
  const bytes = ['PN', 'LO', 'SH', 'ST', 'LT', 'UT', 'UC'].includes(vr) ? iconv.encode(text, encoding) : Buffer.from(text, 'latin1');
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.from([vr === 'UI' ? 0 : 0x20])]);
}

/** One explicit-VR little-endian element (header and value). */
export function encodeElement(element: DicomElement, encoding = 'utf8'): Buffer {
  const value = valueBytes(element, encoding);
  const head = LONG_VRS.has(element.vr) ? Buffer.alloc(12) : Buffer.alloc(8);
  tagBytes(element.tag).copy(head, 0);
  head.write(element.vr, 4, 'latin1');
  if (LONG_VRS.has(element.vr)) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

function encodingOf(charset: TestInstance['charset']): string {
  return charset === 'GB18030' ? 'gb18030' : charset === 'ISO_IR 100' ? 'latin1' : 'utf8';
}

/** The file meta group (0002,xxxx) of a Part-10 file, preamble and "DICM" included. */
function fileMeta(sopClassUid: string, sopInstanceUid: string, transferSyntaxUid: string): Buffer {
  const elements = [
    encodeElement({ tag: '00020001', vr: 'OB', value: Buffer.from([0, 1]) }),
    encodeElement({ tag: '00020002', vr: 'UI', value: sopClassUid }),
    encodeElement({ tag: '00020003', vr: 'UI', value: sopInstanceUid }),
    encodeElement({ tag: '00020010', vr: 'UI', value: transferSyntaxUid }),
    encodeElement({ tag: '00020012', vr: 'UI', value: `${TEST_UID_ROOT}.99` }),
    encodeElement({ tag: '00020013', vr: 'SH', value: 'WARDLINE_TEST' }),
  ];
  const body = Buffer.concat(elements);
  const groupLength = encodeElement({ tag: '00020000', vr: 'UL', value: body.length });
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), groupLength, body]);
}

/** The dataset's attributes before the pixel data, sorted by tag as Part 10 requires. */
export function instanceElements(instance: TestInstance): DicomElement[] {
  const rows = instance.rows ?? 64;
  const columns = instance.columns ?? 64;
  const frames = instance.frames ?? 1;
  const elements: DicomElement[] = [
    { tag: '00080005', vr: 'CS', value: instance.charset ?? 'ISO_IR 192' },
    { tag: '00080016', vr: 'UI', value: instance.sopClassUid ?? CT_IMAGE_STORAGE },
    { tag: '00080018', vr: 'UI', value: instance.sopInstanceUid },
    { tag: '00080020', vr: 'DA', value: instance.studyDate ?? '20261201' },
    { tag: '00080030', vr: 'TM', value: '083000' },
    { tag: '00080060', vr: 'CS', value: instance.modality ?? 'CT' },
    { tag: '00100010', vr: 'PN', value: instance.patientName ?? 'TEST^PATIENT' },
    { tag: '00100020', vr: 'LO', value: instance.patientId ?? 'P0001' },
    { tag: '0020000D', vr: 'UI', value: instance.studyUid },
    { tag: '0020000E', vr: 'UI', value: instance.seriesUid },
    { tag: '00280002', vr: 'US', value: 1 },
    { tag: '00280004', vr: 'CS', value: 'MONOCHROME2' },
    ...(frames > 1 ? [{ tag: '00280008', vr: 'IS', value: String(frames) }] : []),
    { tag: '00280010', vr: 'US', value: rows },
    { tag: '00280011', vr: 'US', value: columns },
    { tag: '00280100', vr: 'US', value: 16 },
    { tag: '00280101', vr: 'US', value: 12 },
    { tag: '00280102', vr: 'US', value: 11 },
    { tag: '00280103', vr: 'US', value: 0 },
    ...(instance.extra ?? []),
  ];
  // Later entries (extra) replace earlier ones with the same tag.
  const byTag = new Map(elements.map((e) => [e.tag.toUpperCase(), e]));
  return [...byTag.values()].sort((a, b) => (a.tag.toUpperCase() < b.tag.toUpperCase() ? -1 : 1));
}

/** Bytes of pixel data the instance carries (16-bit samples). */
export function pixelBytes(instance: TestInstance): number {
  return (instance.rows ?? 64) * (instance.columns ?? 64) * 2 * (instance.frames ?? 1);
}

/**
 * Writes a Part-10 file (explicit VR little endian) and fsyncs it; returns its
 * size. Pixel data is streamed in 4 MiB slices.
 */
export function writeDicomFile(path: string, instance: TestInstance): number {
  const encoding = encodingOf(instance.charset);
  const sopClassUid = instance.sopClassUid ?? CT_IMAGE_STORAGE;
  const header = Buffer.concat([
    fileMeta(sopClassUid, instance.sopInstanceUid, EXPLICIT_VR_LITTLE_ENDIAN),
    ...instanceElements(instance).map((e) => encodeElement(e, encoding)),
  ]);
  const pixels = pixelBytes(instance);
  const pixelHead = Buffer.alloc(12);
  tagBytes('7FE00010').copy(pixelHead, 0);
  pixelHead.write('OW', 4, 'latin1');
  pixelHead.writeUInt32LE(pixels, 8);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header);
    writeSync(fd, pixelHead);
    const key = createHash('sha256').update(instance.sopInstanceUid).digest();
    const keystream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(PIXEL_SLICE_BYTES);
    for (let left = pixels; left > 0; left -= PIXEL_SLICE_BYTES) {
      const slice = keystream.update(zeros.subarray(0, Math.min(left, PIXEL_SLICE_BYTES)));
      writeSync(fd, slice);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return header.length + pixelHead.length + pixels;
}

/** Writes a study: `series` series of `perSeries` instances each, into dir; returns the paths in order and the total bytes. */
export function writeDicomStudy(
  dir: string,
  options: { study: number; series?: number; perSeries: number; rows?: number; columns?: number; frames?: number; patientName?: string; charset?: TestInstance['charset']; patientId?: string; extra?: DicomElement[] },
): { paths: string[]; bytes: number; studyUid: string } {
  const uids = testUids(options.study);
  const paths: string[] = [];
  let bytes = 0;
  for (let s = 1; s <= (options.series ?? 1); s++) {
    for (let i = 1; i <= options.perSeries; i++) {
      const path = `${dir}/s${s}-i${i}.dcm`;
      bytes += writeDicomFile(path, {
        studyUid: uids.studyUid,
        seriesUid: uids.seriesUid(s),
        sopInstanceUid: uids.sopInstanceUid(s, i),
        rows: options.rows,
        columns: options.columns,
        frames: options.frames,
        patientName: options.patientName,
        charset: options.charset,
        patientId: options.patientId,
        extra: [{ tag: '00200013', vr: 'IS', value: String(i) }, ...(options.extra ?? [])],
      });
      paths.push(path);
    }
  }
  return { paths, bytes, studyUid: uids.studyUid };
}
