// DICOM de-identification (agent/policy/dicom) on real Part-10 files in a real
// archive: PS3.15 Annex E actions, the options, UID remap, GB18030 names, private
// tags, the de-identification attributes, pixel data untouched, burned-in
// annotation flagged, and unreadable instances refused with a code.
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import iconv from 'iconv-lite';
import { parse as parseYaml } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ImagingInstanceBody } from '../../../protocol/index.js';
import { FileInstanceArchive, type InstanceTransform } from '../../../agent/imaging/index.js';
import { createDicomDeidentifier, DicomDeidErrorCode, reduceAction, actionFor } from '../../../agent/policy/dicom/index.js';
import { parseDataset, parseFileMeta, type DicomElement } from '../../../agent/policy/dicom/dicom-dataset.js';
import { DicomPolicyConfigSchema } from '../../../agent/policy/policy-config.js';
import { pseudonym, type HospitalKey } from '../../../agent/policy/pseudonym.js';
import { encodeElement, SECONDARY_CAPTURE_STORAGE, testUids, writeDicomFile, type DicomElement as TestElement, type TestInstance } from '../../support/dicom-files.js';
import { agentConfigProblems } from '../../support/agent-config-problems.js';
import { makeTempDir } from '../../support/temp-dir.js';

const run = promisify(execFile);
const KEY: HospitalKey = { id: 'k1', secret: Buffer.alloc(32, 7) };
const NAME = '张三丰';
const NAME_GB18030 = iconv.encode(NAME, 'gb18030');

/** A sequence value (explicit VR LE, defined lengths) of items, each a list of elements. */
function sequence(items: TestElement[][]): Buffer {
  return Buffer.concat(
    items.map((item) => {
      const body = Buffer.concat(item.map((e) => encodeElement(e)));
      const head = Buffer.alloc(8);
      head.writeUInt16LE(0xfffe, 0);
      head.writeUInt16LE(0xe000, 2);
      head.writeUInt32LE(body.length, 4);
      return Buffer.concat([head, body]);
    }),
  );
}

/** Identifying attributes a modality typically sends, with a private block. */
function identifying(n: number): TestElement[] {
  return [
    { tag: '00080021', vr: 'DA', value: '20261130' }, // Series Date X/D
    { tag: '00080023', vr: 'DA', value: '20261130' }, // Content Date Z/D
    { tag: '00080050', vr: 'SH', value: 'ACC-778899' }, // Accession Number Z
    { tag: '00080070', vr: 'LO', value: 'ACME Medical' }, // Manufacturer: not in the table, kept
    { tag: '00080080', vr: 'LO', value: '北京协和医院' }, // Institution Name X/Z/D
    { tag: '00080081', vr: 'ST', value: 'Dongcheng, Beijing' }, // Institution Address X
    { tag: '00080082', vr: 'SQ', value: sequence([[{ tag: '00080100', vr: 'SH', value: 'PUMCH-0101' }, { tag: '00080102', vr: 'SH', value: 'LOCAL' }]]) }, // Institution Code Sequence X/Z/D
    { tag: '00080090', vr: 'PN', value: 'WANG^DOCTOR' }, // Referring Physician Z
    { tag: '00081010', vr: 'SH', value: 'CT-ROOM-3' }, // Station Name X/Z/D, D keeps
    { tag: '00081030', vr: 'LO', value: 'CHEST CT 张三丰' }, // Study Description X
    {
      tag: '00081140',
      vr: 'SQ',
      value: sequence([
        [
          { tag: '00081150', vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
          { tag: '00081155', vr: 'UI', value: `2.25.1234567890.77.1.${n + 1}` },
        ],
      ]),
    }, // Referenced Image Sequence X/Z/U*
    { tag: '00090010', vr: 'LO', value: 'ACME_PRIV' }, // private creator of block 0009,10xx
    { tag: '00091001', vr: 'LO', value: 'SAFE-VALUE' },
    { tag: '00091002', vr: 'LO', value: 'P-778899 SECRET' },
    { tag: '00100030', vr: 'DA', value: '19700101' }, // Birth Date Z
    { tag: '00100040', vr: 'CS', value: 'M' }, // Sex Z, P keeps
    { tag: '00101000', vr: 'LO', value: 'OTHER-ID-1' }, // Other Patient IDs X
    { tag: '00101010', vr: 'AS', value: '056Y' }, // Age X, P keeps
    { tag: '00181000', vr: 'LO', value: 'SN-12345' }, // Device Serial Number X/Z/D
    { tag: '00200052', vr: 'UI', value: '2.25.1234567890.77.500' }, // Frame of Reference UID U
    { tag: '00204000', vr: 'LT', value: 'patient anxious' }, // Image Comments X
    { tag: '0040A730', vr: 'SQ', value: sequence([[{ tag: '0040A040', vr: 'CS', value: 'TEXT' }, { tag: '0040A160', vr: 'UT', value: 'Findings for 张三丰: nodule' }]]) }, // Content Sequence D
    { tag: '00280301', vr: 'CS', value: 'NO' },
  ];
}

function findElement(elements: readonly DicomElement[], tag: number): DicomElement | undefined {
  return elements.find((e) => e.tag === tag);
}
function textOf(elements: readonly DicomElement[], tag: number): string | undefined {
  const value = findElement(elements, tag)?.value;
  return value === undefined ? undefined : value.toString('latin1').replace(/[\0 ]+$/, '');
}
function remap(uid: string): string {
  return `2.25.${BigInt(`0x${createHmac('sha256', KEY.secret).update(uid, 'latin1').digest().subarray(0, 16).toString('hex')}`).toString(10)}`;
}

/** The bytes of top-level Pixel Data (header included) of a Part-10 file. */
function pixelRegion(file: Buffer): Buffer {
  const meta = parseFileMeta(file, true);
  const parsed = parseDataset(file, meta.end, false, true);
  return file.subarray(parsed.pixelDataOffset!);
}

describe('DICOM de-identification (PS3.15 Basic Application Level Confidentiality Profile)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let archive: FileInstanceArchive;
  let n = 0;

  beforeEach(async () => {
    dir = makeTempDir();
    archive = new FileInstanceArchive({ dir: join(dir.path, 'archive') });
    await archive.open();
  });
  afterEach(async () => {
    await archive.close();
    dir.remove();
  });

  function deidentifier(options: Record<string, unknown> = {}): InstanceTransform {
    return createDicomDeidentifier({ config: DicomPolicyConfigSchema.parse(options), key: KEY, archive, workDir: join(dir.path, 'deid') });
  }

  /** Archives a written instance; returns its body as the DICOM source journals it. */
  async function archived(instance: Partial<TestInstance> & { sopInstanceUid: string }): Promise<{ body: ImagingInstanceBody; file: Buffer }> {
    const uids = testUids(77);
    const full: TestInstance = { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), patientName: NAME, charset: 'GB18030', patientId: 'P-778899', ...instance };
    const path = join(dir.path, `in-${n++}.dcm`);
    writeDicomFile(path, full);
    const manifest = await archive.ingestFile(path);
    const body: ImagingInstanceBody = {
      ...manifest,
      studyUid: full.studyUid,
      seriesUid: full.seriesUid,
      sopInstanceUid: full.sopInstanceUid,
      sopClassUid: full.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      patientId: full.patientId ?? '',
      modality: full.modality ?? 'CT',
      studyDate: '20261201',
    };
    return { body, file: await read(body) };
  }

  async function read(body: ImagingInstanceBody): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of archive.createInstanceStream(body)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  async function deidentified(transform: InstanceTransform, extra = identifying(0), instance: Partial<TestInstance> = {}): Promise<{ original: { body: ImagingInstanceBody; file: Buffer }; body: ImagingInstanceBody; file: Buffer; meta: DicomElement[]; dataset: DicomElement[] }> {
    const uids = testUids(77);
    const original = await archived({ sopInstanceUid: uids.sopInstanceUid(1, n + 1), extra, ...instance });
    const body = await transform(original.body);
    const file = await read(body);
    const meta = parseFileMeta(file, true);
    const parsed = parseDataset(file, meta.end, false, true);
    return { original, body, file, meta: meta.elements, dataset: parsed.elements };
  }

  it('applies each action: Z empties, X removes, D puts a dummy, U remaps, unnamed attributes are kept', async () => {
    const { dataset } = await deidentified(deidentifier());
    // Z
    expect(textOf(dataset, 0x00080050)).toBe('');
    expect(textOf(dataset, 0x00080020)).toBe('');
    expect(textOf(dataset, 0x00080090)).toBe('');
    expect(textOf(dataset, 0x00100030)).toBe('');
    expect(textOf(dataset, 0x00100040)).toBe('');
    // X
    for (const tag of [0x00080081, 0x00081030, 0x00101000, 0x00101010, 0x00204000]) expect(findElement(dataset, tag), tag.toString(16)).toBeUndefined();
    // D (and the D of X/D, Z/D, X/Z/D)
    expect(textOf(dataset, 0x00080021)).toBe('19000101');
    expect(textOf(dataset, 0x00080023)).toBe('19000101');
    expect(textOf(dataset, 0x00080080)).toBe('ANONYMIZED');
    expect(textOf(dataset, 0x00081010)).toBe('ANONYMIZED');
    expect(textOf(dataset, 0x00181000)).toBe('ANONYMIZED');
    expect(findElement(dataset, 0x00080082)?.items).toEqual([]); // a sequence's dummy: no items, nothing of its codes
    expect(findElement(dataset, 0x0040a730)?.items).toEqual([]); // an SR's Content Sequence: no report text leaves
    // U
    expect(textOf(dataset, 0x00200052)).toBe(remap('2.25.1234567890.77.500'));
    const referenced = findElement(dataset, 0x00081140)!.items!;
    expect(textOf(referenced[0]!, 0x00081155)).toBe(remap('2.25.1234567890.77.1.1'));
    expect(textOf(referenced[0]!, 0x00081150)).toBe('1.2.840.10008.5.1.4.1.1.2');
    // K (an attribute the table does not name) and the pixel description
    expect(textOf(dataset, 0x00080070)).toBe('ACME Medical');
    expect(findElement(dataset, 0x00280010)?.value?.readUInt16LE(0)).toBe(64);
  });

  it('reduces composite actions to one that keeps any IOD valid; C falls back to removal, K keeps', () => {
    expect(reduceAction('K')).toBe('keep');
    expect(reduceAction('C')).toBe('remove');
    expect(reduceAction('X/Z')).toBe('empty');
    expect(reduceAction('X/Z/D')).toBe('dummy');
    expect(reduceAction('X/Z/U*')).toBe('enterSequence');
    const none = { retainLongitudinalDates: false, retainUids: false, retainDeviceIdentity: false, retainPatientCharacteristics: false };
    expect(actionFor(0x00100010, none)).toBe('empty');
    expect(actionFor(0x00080018, none)).toBe('remapUid');
    expect(actionFor(0x00080070, none)).toBe('keep');
    expect(actionFor(0x60023000, none)).toBe('remove');
  });

  it('replaces the GB18030 patient name and the patient ID; nothing of either remains in the file', async () => {
    const { dataset, file, original } = await deidentified(deidentifier());
    expect(original.file.includes(NAME_GB18030)).toBe(true);
    expect(textOf(dataset, 0x00080005)).toBe('GB18030');
    expect(textOf(dataset, 0x00100010)).toBe(pseudonym(KEY, 'P-778899'));
    expect(textOf(dataset, 0x00100020)).toBe(pseudonym(KEY, 'P-778899'));
    expect(file.includes(NAME_GB18030)).toBe(false);
    expect(file.includes(iconv.encode('张三', 'gb18030'))).toBe(false);
    expect(file.includes(Buffer.from('P-778899'))).toBe(false);
    expect(file.includes(iconv.encode('北京协和医院', 'gb18030'))).toBe(false);
    expect(file.includes(Buffer.from('ACC-778899'))).toBe(false);
    expect(file.includes(Buffer.from('PUMCH-0101'))).toBe(false);
  });

  it('removes a kept attribute whose text holds the decoded patient name or ID', async () => {
    const extra: TestElement[] = [
      { tag: '00081090', vr: 'LO', value: `MODEL ${NAME}` }, // Manufacturer's Model Name: not in the table, holds the name
      { tag: '00180015', vr: 'CS', value: 'CHEST' }, // Body Part Examined: kept
      { tag: '00181250', vr: 'SH', value: 'P-778899' }, // Receive Coil Name: not in the table, holds the ID
      { tag: '00400254', vr: 'LO', value: `CT ${NAME}` }, // Performed Procedure Step Description: X anyway
    ];
    const { dataset, file } = await deidentified(deidentifier(), extra);
    expect(findElement(dataset, 0x00081090)).toBeUndefined();
    expect(findElement(dataset, 0x00181250)).toBeUndefined();
    expect(findElement(dataset, 0x00400254)).toBeUndefined();
    expect(textOf(dataset, 0x00180015)).toBe('CHEST');
    expect(file.includes(NAME_GB18030)).toBe(false);
  });

  it('matches a Latin name as a whole word only, so kept codes and words that merely contain it stay', async () => {
    const extra: TestElement[] = [
      { tag: '00081090', vr: 'LO', value: 'CLINICAL SCANNER' }, // holds "LI" inside a word: kept
      { tag: '00181020', vr: 'LO', value: 'V2 LI BUILD' }, // Software Versions: holds the family name as a word: removed
      { tag: '00080008', vr: 'CS', value: 'ORIGINAL\\PRIMARY\\LI' }, // a CS code is never typed text: kept
    ];
    const { dataset } = await deidentified(deidentifier(), extra, { patientName: 'LI^NA', charset: 'ISO_IR 100' });
    expect(textOf(dataset, 0x00081090)).toBe('CLINICAL SCANNER');
    expect(findElement(dataset, 0x00181020)).toBeUndefined();
    expect(textOf(dataset, 0x00080008)).toBe('ORIGINAL\\PRIMARY\\LI');
  });

  it('decodes the Patient ID per Specific Character Set (GB18030, GBK) before it is pseudonymised', async () => {
    const id = '住院号-12345';
    for (const charset of ['GB18030', 'GBK']) {
      const { dataset, file } = await deidentified(deidentifier(), [{ tag: '00080005', vr: 'CS', value: charset }], { patientId: id });
      expect(textOf(dataset, 0x00100020)).toBe(pseudonym(KEY, id));
      expect(file.includes(iconv.encode('住院号', 'gb18030'))).toBe(false);
    }
  });

  it('remaps UIDs to 2.25.<decimal of the HMAC>, the same across the instances of a study, and differing from the originals', async () => {
    const transform = deidentifier();
    const a = await deidentified(transform);
    const b = await deidentified(transform, identifying(1));
    const uids = testUids(77);
    for (const d of [a, b]) {
      expect(textOf(d.dataset, 0x0020000d)).toBe(remap(uids.studyUid));
      expect(textOf(d.dataset, 0x0020000e)).toBe(remap(uids.seriesUid(1)));
      expect(textOf(d.dataset, 0x0020000d)).toMatch(/^2\.25\.[1-9][0-9]*$/);
      expect(textOf(d.dataset, 0x0020000d)!.length).toBeLessThanOrEqual(64);
      expect(d.body.studyUid).toBe(remap(uids.studyUid));
      expect(d.body.sopInstanceUid).toBe(textOf(d.dataset, 0x00080018));
      expect(d.body.sopInstanceUid).toBe(remap(d.original.body.sopInstanceUid));
      expect(d.body.sopInstanceUid).not.toBe(d.original.body.sopInstanceUid);
      expect(d.body.patientId).toBe(pseudonym(KEY, 'P-778899'));
      expect(d.file.includes(Buffer.from(uids.studyUid))).toBe(false);
      expect(d.file.includes(Buffer.from(d.original.body.sopInstanceUid))).toBe(false);
    }
    expect(a.body.sopInstanceUid).not.toBe(b.body.sopInstanceUid);
    const other = createDicomDeidentifier({ config: DicomPolicyConfigSchema.parse({}), key: { id: 'k2', secret: Buffer.alloc(32, 9) }, archive, workDir: join(dir.path, 'deid2') });
    expect((await other(a.original.body)).studyUid).not.toBe(a.body.studyUid);
  });

  it('keeps the file meta consistent: Media Storage SOP Instance UID remapped, group length right, dcmdump reads it', async () => {
    const { meta, dataset, file } = await deidentified(deidentifier());
    expect(textOf(meta, 0x00020003)).toBe(textOf(dataset, 0x00080018));
    const groupLength = findElement(meta, 0x00020000)!.value!.readUInt32LE(0);
    const metaEnd = parseFileMeta(file, true).end;
    expect(132 + 12 + groupLength).toBe(metaEnd);
    expect(textOf(meta, 0x00020010)).toBe('1.2.840.10008.1.2.1');
    const path = join(dir.path, 'out.dcm');
    writeFileSync(path, file);
    const { stdout, stderr } = await run('dcmdump', ['-q', '+E', path]);
    expect(stderr).toBe('');
    expect(stdout).toContain('(0012,0062) CS [YES]');
    expect(stdout).toContain('PixelData');
  });

  it('sets Patient Identity Removed YES and the De-identification Method with its code sequence', async () => {
    const { dataset, body } = await deidentified(deidentifier({ retainLongitudinalDates: true }));
    expect(textOf(dataset, 0x00120062)).toBe('YES');
    expect(textOf(dataset, 0x00120063)).toContain('Basic Application Confidentiality Profile');
    expect(textOf(dataset, 0x00120063)).toContain('Retain Longitudinal Temporal Information Full Dates Option');
    const codes = findElement(dataset, 0x00120064)!.items!.map((item) => textOf(item, 0x00080100));
    expect(codes).toEqual(['113100', '113106']);
    expect(textOf(dataset, 0x00280303)).toBe('UNMODIFIED');
    expect(body.deidentified?.method).toContain('Basic Application Confidentiality Profile');
  });

  it('retains dates and times with retainLongitudinalDates, and only those', async () => {
    const { dataset } = await deidentified(deidentifier({ retainLongitudinalDates: true }));
    expect(textOf(dataset, 0x00080020)).toBe('20261201');
    expect(textOf(dataset, 0x00080021)).toBe('20261130');
    expect(textOf(dataset, 0x00080030)).toBe('083000');
    expect(textOf(dataset, 0x00100030)).toBe(''); // birth date is not longitudinal
    expect(textOf(dataset, 0x00080050)).toBe('');
  });

  it('retains the original UIDs with retainUids (nested ones too) and marks the option', async () => {
    const { dataset, meta, original, body } = await deidentified(deidentifier({ retainUids: true }));
    expect(textOf(dataset, 0x00080018)).toBe(original.body.sopInstanceUid);
    expect(textOf(meta, 0x00020003)).toBe(original.body.sopInstanceUid);
    expect(textOf(dataset, 0x0020000d)).toBe(original.body.studyUid);
    expect(textOf(findElement(dataset, 0x00081140)!.items![0]!, 0x00081155)).toBe('2.25.1234567890.77.1.1');
    expect(body.studyUid).toBe(original.body.studyUid);
    expect(textOf(dataset, 0x00120063)).toContain('Retain UIDs Option');
    expect(textOf(dataset, 0x00100010)).toBe(pseudonym(KEY, 'P-778899'));
  });

  it('retains device identity and patient characteristics only when asked', async () => {
    const { dataset } = await deidentified(deidentifier({ retainDeviceIdentity: true, retainPatientCharacteristics: true }));
    expect(textOf(dataset, 0x00081010)).toBe('CT-ROOM-3');
    expect(textOf(dataset, 0x00181000)).toBe('SN-12345');
    expect(textOf(dataset, 0x00100040)).toBe('M');
    expect(textOf(dataset, 0x00101010)).toBe('056Y');
  });

  it('removes private attributes except the safe-listed ones (by creator and by tag), keeping their creator', async () => {
    const none = await deidentified(deidentifier());
    for (const tag of [0x00090010, 0x00091001, 0x00091002]) expect(findElement(none.dataset, tag)).toBeUndefined();
    const byCreator = await deidentified(deidentifier({ keepPrivateTags: ['(0009,"ACME_PRIV",01)'] }));
    expect(textOf(byCreator.dataset, 0x00091001)).toBe('SAFE-VALUE');
    expect(textOf(byCreator.dataset, 0x00090010)).toBe('ACME_PRIV');
    expect(findElement(byCreator.dataset, 0x00091002)).toBeUndefined();
    expect(byCreator.file.includes(Buffer.from('SECRET'))).toBe(false);
    // Safe-listed, but holding the patient's ID: removed all the same.
    const holding = await deidentified(deidentifier({ keepPrivateTags: ['(0009,"ACME_PRIV",02)'] }));
    expect(findElement(holding.dataset, 0x00091002)).toBeUndefined();
    const byTag = await deidentified(deidentifier({ keepPrivateTags: ['(0009,1001)'] }));
    expect(textOf(byTag.dataset, 0x00091001)).toBe('SAFE-VALUE');
    expect(findElement(byTag.dataset, 0x00091002)).toBeUndefined();
    const bad = { ...DicomPolicyConfigSchema.parse({}), keepPrivateTags: ['(0008,1001)'] };
    expect(() => createDicomDeidentifier({ config: bad, key: KEY, archive, workDir: dir.path })).toThrow(expect.objectContaining({ code: DicomDeidErrorCode.CONFIG }));
  });

  it('refuses a keepPrivateTags entry when the config is read, naming the key, the entry and the file', () => {
    const problems = agentConfigProblems(`
hospital: { id: demo-hospital }
dataDir: ./data
relays: [{ name: cloud, address: "127.0.0.1:7443", secret: s3cret, allowPlaintext: true }]
feeds:
  - { name: ct, relay: cloud, streams: [imaging], policy: { dicom: { keepPrivateTags: ['(0009,"ACME",01)', '(0008,1001)'] } } }
`);
    expect(problems).toEqual([expect.stringMatching(/^feeds\[0\]\.policy\.dicom\.keepPrivateTags\[1\]: keepPrivateTags: "\(0008,1001\)" is not a private attribute .*\(agent\.yaml\)$/)]);
  });

  it('the commented imaging-research feed in examples/agent.yaml, uncommented, is a valid de-identification policy', () => {
    const lines = readFileSync(new URL('../../../examples/agent.yaml', import.meta.url), 'utf8').split('\n');
    const start = lines.findIndex((l) => l.includes('# >>> dicom de-identification'));
    const end = lines.findIndex((l) => l.includes('# <<< dicom de-identification'));
    expect(end).toBeGreaterThan(start);
    const block = lines.slice(start + 1, end).filter((l) => /^ {2}# [-\s]/.test(l)).map((l) => l.replace(/^ {2}# /, '')).join('\n');
    const [feed] = parseYaml(block) as { policy: { dicom: unknown } }[];
    const config = DicomPolicyConfigSchema.parse(feed!.policy.dicom);
    expect(config).toMatchObject({ profile: 'basic', retainUids: false, keepPrivateTags: ['(0019,"GEMS_ACQU_01",10)', '(0043,1028)'] });
  });

  it('copies pixel data byte for byte, across archive chunks', async () => {
    // 1500 x 1500 x 2 bytes: pixel data spans the archive's 4 MiB chunks.
    const { file, original } = await deidentified(deidentifier(), identifying(0), { rows: 1500, columns: 1500 });
    expect(original.body.chunks.length).toBeGreaterThan(1);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(sha(pixelRegion(file))).toBe(sha(pixelRegion(original.file)));
    expect(pixelRegion(file).length).toBe(12 + 1500 * 1500 * 2);
  });

  /** Archives a file dcmtk rewrote (another transfer syntax, attributes after Pixel Data). */
  async function archivedFile(path: string, sopInstanceUid: string): Promise<{ body: ImagingInstanceBody; file: Buffer }> {
    const manifest = await archive.ingestFile(path);
    const uids = testUids(77);
    const body: ImagingInstanceBody = { ...manifest, studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid, sopClassUid: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUid: '1.2.840.10008.1.2', patientId: 'P-778899', modality: 'CT', studyDate: '' };
    return { body, file: await read(body) };
  }

  async function dcmdump(file: Buffer): Promise<string> {
    const path = join(dir.path, `dump-${n++}.dcm`);
    writeFileSync(path, file);
    const { stdout, stderr } = await run('dcmdump', ['-q', '+E', path]);
    expect(stderr).toBe('');
    return stdout;
  }

  it('rewrites an implicit VR little endian instance in its own syntax, private attributes after Pixel Data removed', async () => {
    const uids = testUids(77);
    const explicit = join(dir.path, 'explicit.dcm');
    const implicit = join(dir.path, 'implicit.dcm');
    writeDicomFile(explicit, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(2, 1), patientName: NAME, charset: 'GB18030', patientId: 'P-778899', extra: identifying(0) });
    // A private block after Pixel Data (as some modalities write one).
    appendFileSync(explicit, Buffer.concat([encodeElement({ tag: '7FE10010', vr: 'LO', value: 'ACME_TRAILER' }), encodeElement({ tag: '7FE11001', vr: 'LO', value: 'TRAILER-SECRET' })]));
    await run('dcmconv', ['+ti', explicit, implicit]);
    const original = await archivedFile(implicit, uids.sopInstanceUid(2, 1));
    expect(original.file.includes(Buffer.from('TRAILER-SECRET'))).toBe(true);
    const body = await deidentifier()(original.body);
    const file = await read(body);
    const dump = await dcmdump(file);
    expect(dump).toContain('TransferSyntaxUID'); // and it is implicit, as it came
    expect(dump).toContain('=LittleEndianImplicit');
    expect(dump).toContain(`(0020,000d) UI [${remap(uids.studyUid)}]`);
    expect(dump).toContain('(0012,0062) CS [YES]');
    expect(dump).not.toContain('ACC-778899');
    expect(file.includes(Buffer.from('TRAILER-SECRET'))).toBe(false);
    expect(file.includes(NAME_GB18030)).toBe(false);
    const meta = parseFileMeta(file, true);
    const dataset = parseDataset(file, meta.end, true, true);
    expect(textOf(dataset.elements, 0x00080050)).toBe('');
    expect(textOf(dataset.elements, 0x00080021)).toBe('19000101');
    const pixels = (f: Buffer): Buffer => {
      const m = parseFileMeta(f, true);
      const at = parseDataset(f, m.end, true, true).pixelDataOffset!;
      return f.subarray(at, at + 8 + f.readUInt32LE(at + 4));
    };
    expect(pixels(file).equals(pixels(original.file))).toBe(true);
  });

  it('copies encapsulated (RLE) pixel data fragment for fragment, across archive chunks', async () => {
    const uids = testUids(77);
    const raw = join(dir.path, 'raw.dcm');
    const rle = join(dir.path, 'rle.dcm');
    writeDicomFile(raw, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(3, 1), patientName: NAME, charset: 'GB18030', patientId: 'P-778899', rows: 1500, columns: 1500, extra: identifying(0) });
    await run('dcmcrle', [raw, rle]);
    const original = await archivedFile(rle, uids.sopInstanceUid(3, 1));
    expect(original.body.chunks.length).toBeGreaterThan(1);
    const body = await deidentifier()(original.body);
    const file = await read(body);
    const dump = await dcmdump(file);
    expect(dump).toContain('=RLELossless');
    expect(dump).toContain('(fffe,e0dd)');
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(sha(pixelRegion(file))).toBe(sha(pixelRegion(original.file)));
    expect(file.includes(NAME_GB18030)).toBe(false);
  });

  it('de-identifies an instance without Pixel Data (a structured report): the dataset is read to its end', async () => {
    const uids = testUids(77);
    const full = join(dir.path, 'with-pixels.dcm');
    writeDicomFile(full, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(4), sopInstanceUid: uids.sopInstanceUid(4, 1), sopClassUid: '1.2.840.10008.5.1.4.1.1.88.11', modality: 'SR', patientName: NAME, charset: 'GB18030', patientId: 'P-778899', extra: identifying(0) });
    const bytes = readFileSync(full);
    const path = join(dir.path, 'sr.dcm');
    writeFileSync(path, bytes.subarray(0, pixelRegion(bytes).byteOffset - bytes.byteOffset));
    const original = await archivedFile(path, uids.sopInstanceUid(4, 1));
    const body = await deidentifier()(original.body);
    const file = await read(body);
    const dump = await dcmdump(file);
    expect(dump).not.toContain('PixelData');
    expect(dump).toContain('(0012,0062) CS [YES]');
    expect(findElement(parseDataset(file, parseFileMeta(file, true).end, false, true).elements, 0x0040a730)?.items).toEqual([]);
    expect(file.includes(NAME_GB18030)).toBe(false);
  });

  it('flags burned-in annotation: as the instance says it, and for SOP classes known for it', async () => {
    const said = await deidentified(deidentifier(), [{ tag: '00280301', vr: 'CS', value: 'YES' }]);
    expect(said.body.deidentified?.burnedInAnnotation).toBe('YES');
    expect(textOf(said.dataset, 0x00280301)).toBe('YES');
    const no = await deidentified(deidentifier());
    expect(no.body.deidentified?.burnedInAnnotation).toBe('NO');
    const silent = await deidentified(deidentifier(), []);
    expect(silent.body.deidentified?.burnedInAnnotation).toBe('UNKNOWN');
    const capture = await deidentified(deidentifier(), [], { sopClassUid: SECONDARY_CAPTURE_STORAGE, modality: 'OT' });
    expect(capture.body.deidentified?.burnedInAnnotation).toBe('YES');
    const ultrasound = await deidentified(deidentifier(), [], { sopClassUid: '1.2.840.10008.5.1.4.1.1.6.1', modality: 'US' });
    expect(ultrasound.body.deidentified?.burnedInAnnotation).toBe('YES');
  });

  it('removes temp files a killed agent left in its work dir, and leaves none of its own', async () => {
    const workDir = join(dir.path, 'deid');
    mkdirSync(workDir, { recursive: true });
    writeFileSync(join(workDir, 'abc.123.tmp'), 'half written');
    await deidentified(deidentifier());
    expect(readdirSync(workDir)).toEqual([]);
  });

  it('refuses a big-endian instance with its own code', async () => {
    const uids = testUids(79);
    const path = join(dir.path, 'big.dcm');
    writeDicomFile(path, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(1, 1) });
    const bytes = readFileSync(path);
    // Same length as explicit VR little endian's UID: only the meta says big endian.
    const at = bytes.indexOf(Buffer.from('1.2.840.10008.1.2.1\0'));
    Buffer.from('1.2.840.10008.1.2.2\0').copy(bytes, at);
    writeFileSync(path, bytes);
    const manifest = await archive.ingestFile(path);
    const body: ImagingInstanceBody = { ...manifest, studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(1, 1), sopClassUid: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUid: '1.2.840.10008.1.2.2', patientId: 'P', modality: 'CT', studyDate: '' };
    await expect(deidentifier()(body)).rejects.toMatchObject({ code: DicomDeidErrorCode.UNSUPPORTED_SYNTAX, message: expect.stringContaining('big endian') });
  });

  it('refuses an instance it cannot parse with a coded error and archives nothing for it', async () => {
    const path = join(dir.path, 'broken.dcm');
    const good = join(dir.path, 'good.dcm');
    const uids = testUids(78);
    writeDicomFile(good, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(1, 1) });
    const bytes = readFileSync(good);
    // A length past the end of the file inside the dataset: Patient Name claims 60000 bytes.
    const at = bytes.indexOf(Buffer.from([0x10, 0x00, 0x10, 0x00, 0x50, 0x4e]));
    bytes.writeUInt16LE(60000, at + 6);
    writeFileSync(path, bytes.subarray(0, at + 200));
    const manifest = await archive.ingestFile(path);
    const before = archive.usage().instances;
    const body: ImagingInstanceBody = { ...manifest, studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(1, 1), sopClassUid: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUid: '1.2.840.10008.1.2.1', patientId: 'P', modality: 'CT', studyDate: '' };
    await expect(deidentifier()(body)).rejects.toMatchObject({ code: DicomDeidErrorCode.UNREADABLE, name: 'DicomDeidError' });
    expect(archive.usage().instances).toBe(before);
    const notDicom = join(dir.path, 'random.bin');
    writeFileSync(notDicom, randomBytes(1000));
    const random = await archive.ingestFile(notDicom);
    await expect(deidentifier()({ ...body, ...random })).rejects.toMatchObject({ code: DicomDeidErrorCode.UNREADABLE });
  });
});
