// The header reader against files dcmtk wrote or converted: the three
// uncompressed encodings, sequences of defined and undefined length, a header
// longer than the first read, and files that are not DICOM or are cut short.
import { execFileSync } from 'node:child_process';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DicomHeaderError, EXPLICIT_VR_BIG_ENDIAN_UID, EXPLICIT_VR_LITTLE_ENDIAN_UID, IMPLICIT_VR_LITTLE_ENDIAN_UID, readDicomHeader } from '../../../agent/imaging/index.js';
import { encodeElement, testUids, writeDicomFile, type TestInstance } from '../../support/dicom-files.js';
import { makeTempDir } from '../../support/temp-dir.js';

const tmp = makeTempDir('dicom-header-');
afterAll(() => tmp.remove());
const uids = testUids(41);

/** A sequence (0008,1115) with one item holding (0020,000E), encoded with defined lengths. */
function referencedSeries(): Buffer {
  const inner = encodeElement({ tag: '0020000E', vr: 'UI', value: '1.2.3.4' });
  const item = Buffer.alloc(8);
  item.writeUInt16LE(0xfffe, 0);
  item.writeUInt16LE(0xe000, 2);
  item.writeUInt32LE(inner.length, 4);
  return Buffer.concat([item, inner]);
}

function instance(extra: TestInstance['extra'] = []): TestInstance {
  return {
    studyUid: uids.studyUid,
    seriesUid: uids.seriesUid(1),
    sopInstanceUid: uids.sopInstanceUid(1, 1),
    patientName: '张三^先生',
    patientId: 'PID-42',
    charset: 'GB18030',
    extra: [{ tag: '00081115', vr: 'SQ', value: referencedSeries() }, { tag: '00091001', vr: 'LO', value: 'private' }, ...extra],
  };
}

function pixelTagOffset(path: string, bigEndian = false): number {
  return readFileSync(path).indexOf(Buffer.from(bigEndian ? [0x7f, 0xe0, 0x00, 0x10] : [0xe0, 0x7f, 0x10, 0x00]));
}

function convert(source: string, name: string, ...args: string[]): string {
  const target = join(tmp.path, name);
  execFileSync('dcmconv', [...args, source, target]);
  return target;
}

describe('readDicomHeader', () => {
  const explicit = join(tmp.path, 'explicit.dcm');
  writeDicomFile(explicit, instance());

  it('reads explicit VR little endian: UIDs, the GB18030 name, the sequence and where Pixel Data starts', async () => {
    const header = await readDicomHeader(explicit);
    expect(header.transferSyntaxUid).toBe(EXPLICIT_VR_LITTLE_ENDIAN_UID);
    expect(header.meta.mediaStorageSopInstanceUid).toBe(uids.sopInstanceUid(1, 1));
    expect(header.specificCharacterSet).toBe('GB18030');
    expect(header.text('00080018')).toBe(uids.sopInstanceUid(1, 1));
    expect(header.text('0020000d')).toBe(uids.studyUid);
    expect(header.text('00100010')).toBe('张三^先生');
    expect(header.text('00100020')).toBe('PID-42');
    expect(header.element('00081115')?.vr).toBe('SQ');
    expect(header.element('00091001')?.vr).toBe('LO');
    expect(header.pixelDataOffset).toBe(pixelTagOffset(explicit));
    expect(header.pixelDataEnd).toBe(readFileSync(explicit).length);
    const last = header.elements[header.elements.length - 1]!;
    expect(last.end).toBe(header.pixelDataOffset);
    expect(header.datasetOffset).toBe(header.meta.elements[header.meta.elements.length - 1]!.end);
  });

  it('reads implicit VR little endian with undefined-length sequences, taking VRs from the dictionary', async () => {
    const implicit = convert(explicit, 'implicit.dcm', '+ti', '-e');
    const header = await readDicomHeader(implicit);
    expect(header.transferSyntaxUid).toBe(IMPLICIT_VR_LITTLE_ENDIAN_UID);
    expect(header.text('00080018')).toBe(uids.sopInstanceUid(1, 1));
    expect(header.text('0020000E')).toBe(uids.seriesUid(1));
    expect(header.text('00100010')).toBe('张三^先生');
    expect(header.element('00100010')?.vr).toBe('PN');
    expect(header.element('00091001')?.vr).toBe('UN');
    const sequence = header.element('00081115')!;
    expect(sequence.vr).toBe('SQ');
    // Undefined length: the value runs to and includes the sequence delimiter.
    expect(sequence.value.subarray(-8)).toEqual(Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]));
    expect(header.pixelDataOffset).toBe(pixelTagOffset(implicit));
    expect(header.pixelDataEnd).toBe(readFileSync(implicit).length);
  });

  it('reads explicit VR big endian', async () => {
    const big = convert(explicit, 'big.dcm', '+tb');
    const header = await readDicomHeader(big);
    expect(header.transferSyntaxUid).toBe(EXPLICIT_VR_BIG_ENDIAN_UID);
    expect(header.text('00080018')).toBe(uids.sopInstanceUid(1, 1));
    expect(header.text('00100010')).toBe('张三^先生');
    expect(header.element('00280010')?.value.readUInt16BE(0)).toBe(64);
    expect(header.pixelDataOffset).toBe(pixelTagOffset(big, true));
  });

  it('grows its read for a header longer than the first prefix', async () => {
    const long = join(tmp.path, 'long.dcm');
    writeDicomFile(long, instance([{ tag: '00204000', vr: 'LT', value: 'x'.repeat(60_000) }, { tag: '00324000', vr: 'LT', value: 'y'.repeat(60_000) }]));
    const header = await readDicomHeader(long);
    expect(header.text('00324000')).toHaveLength(60_000);
    expect(header.pixelDataOffset).toBe(pixelTagOffset(long));
  });

  it('reports no Pixel Data for a dataset without it', async () => {
    const noPixels = join(tmp.path, 'no-pixels.dcm');
    writeFileSync(noPixels, readFileSync(explicit).subarray(0, pixelTagOffset(explicit)));
    const header = await readDicomHeader(noPixels);
    expect(header.pixelDataOffset).toBeNull();
    expect(header.pixelDataEnd).toBeNull();
    expect(header.text('00080018')).toBe(uids.sopInstanceUid(1, 1));
  });

  it('refuses a file cut inside its header, and one that is not Part 10, naming what is wrong', async () => {
    const cut = join(tmp.path, 'cut.dcm');
    writeFileSync(cut, readFileSync(explicit));
    truncateSync(cut, 300);
    await expect(readDicomHeader(cut)).rejects.toThrow(DicomHeaderError);
    await expect(readDicomHeader(cut)).rejects.toThrow(/truncated: the file ends inside (the )?element .*at byte/);
    const garbage = join(tmp.path, 'garbage.dcm');
    writeFileSync(garbage, Buffer.alloc(4000, 0x41));
    await expect(readDicomHeader(garbage)).rejects.toThrow(/no "DICM" after the 128-byte preamble/);
  });
});
