// The profile applied to a parsed dataset (pure: no I/O): every attribute gets
// its Table E.1-1 action under the feed's options, in nested items too; private
// attributes go unless listed in keepPrivateTags; the de-identification
// attributes of PS3.15 E.1.1 are added; the file meta follows the new SOP
// Instance UID. What the event body needs is read from the result.
//
// Beyond the table: an attribute the table does not name is kept, so a text
// value a modality or a technologist typed the patient into (a model name, a
// coil name, a safe-listed private attribute) would leave with it. The patient's name and ID, decoded per
// Specific Character Set (GB18030/GBK names included), are looked for in every
// kept text value, and an attribute holding either is removed (PS3.15 E.3.1:
// what cannot be cleaned is removed). For the same reason a sequence whose
// action is D (an SR's Content Sequence, an Institution Code Sequence) leaves
// with no items rather than entered: its items hold text the table does not
// name (Text Value, local code values).
import type { DicomPolicyConfig } from '../policy-config.js';
import { pseudonym, type HospitalKey } from '../pseudonym.js';
import { decodeText } from './character-set.js';
import { actionFor, type ProfileOptions } from './confidentiality-profile.js';
import type { DicomElement } from './dicom-dataset.js';
import { keepsPrivate, type PrivateTagSpec } from './private-tag-spec.js';
import { remapUid } from './uid-remap.js';

const SPECIFIC_CHARACTER_SET = 0x00080005;
const SOP_CLASS_UID = 0x00080016;
const SOP_INSTANCE_UID = 0x00080018;
const STUDY_DATE = 0x00080020;
const MODALITY = 0x00080060;
const PATIENT_NAME = 0x00100010;
const PATIENT_ID = 0x00100020;
const STUDY_INSTANCE_UID = 0x0020000d;
const SERIES_INSTANCE_UID = 0x0020000e;
const PATIENT_IDENTITY_REMOVED = 0x00120062;
const DEIDENTIFICATION_METHOD = 0x00120063;
const DEIDENTIFICATION_METHOD_CODE_SEQUENCE = 0x00120064;
const BURNED_IN_ANNOTATION = 0x00280301;
const LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED = 0x00280303;
const MEDIA_STORAGE_SOP_INSTANCE_UID = 0x00020003;
const CODE_VALUE = 0x00080100;
const CODING_SCHEME_DESIGNATOR = 0x00080102;
const CODE_MEANING = 0x00080104;

/** Meta elements that name the sending and receiving applications (AE titles, private meta): not carried. */
const DROPPED_META = new Set([0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102]);
/** Written by the de-identifier itself: whatever the original held is replaced. */
const WRITTEN_HERE = new Set([PATIENT_IDENTITY_REMOVED, DEIDENTIFICATION_METHOD, DEIDENTIFICATION_METHOD_CODE_SEQUENCE, LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED]);

/** CID 7050 De-identification Method: the profile and each option, with their code meanings. */
const METHOD_CODES = {
  basic: ['113100', 'Basic Application Confidentiality Profile'],
  retainLongitudinalDates: ['113106', 'Retain Longitudinal Temporal Information Full Dates Option'],
  retainUids: ['113110', 'Retain UIDs Option'],
  retainDeviceIdentity: ['113109', 'Retain Device Identity Option'],
  retainPatientCharacteristics: ['113108', 'Retain Patient Characteristics Option'],
} as const;

/** Text VRs whose kept values are searched for the patient's name and ID (not CS or AE: codes and titles, never typed text, and often required). */
const TEXT_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);
/** Shortest part of a name or ID looked for in kept text: shorter ones would match by chance (a one-character given name, "M"). */
const MIN_NEEDLE_CHARACTERS = 2;
const MIN_ID_CHARACTERS = 4;

/**
 * SOP classes whose images are known to carry burned-in text (screen captures,
 * ultrasound, endoscopy and other visible-light photos and video, scanned
 * documents) when the instance does not say (PS3.15 E.1.1: pixel data is not
 * cleaned here, so the flag says the pixels may still identify the patient).
 */
const BURNED_IN_SOP_CLASSES = [
  '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture, and its multi-frame kinds (.7.x)
  '1.2.840.10008.5.1.4.1.1.6.', // Ultrasound Image, Enhanced US Volume
  '1.2.840.10008.5.1.4.1.1.3.1', // Ultrasound Multi-frame Image
  '1.2.840.10008.5.1.4.1.1.77.1.', // VL images and video (endoscopy, microscopy, photography)
  '1.2.840.10008.5.1.4.1.1.104.', // Encapsulated PDF, CDA, STL ...
];
/** Modalities known for burned-in text, for an instance whose SOP class does not tell. */
const BURNED_IN_MODALITIES = new Set(['US', 'IVUS', 'ES', 'XC', 'GM', 'SM', 'OP', 'DOC', 'OT']);

export interface DeidentifyContext {
  config: DicomPolicyConfig;
  key: HospitalKey;
  keepPrivate: readonly PrivateTagSpec[];
}

export interface DeidentifiedDataset {
  meta: DicomElement[];
  dataset: DicomElement[];
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  patientId: string;
  modality: string;
  studyDate: string;
  burnedInAnnotation: 'YES' | 'NO' | 'UNKNOWN';
  /** The methods applied, as (0012,0063) lists them. */
  method: string[];
}

/** The profile and the options in force, as the code meanings of CID 7050. */
export function methodOf(config: DicomPolicyConfig): string[] {
  return methodCodes(config).map(([, meaning]) => meaning);
}

function methodCodes(config: DicomPolicyConfig): (readonly [string, string])[] {
  const codes: (readonly [string, string])[] = [METHOD_CODES.basic];
  if (config.retainLongitudinalDates) codes.push(METHOD_CODES.retainLongitudinalDates);
  if (config.retainUids) codes.push(METHOD_CODES.retainUids);
  if (config.retainDeviceIdentity) codes.push(METHOD_CODES.retainDeviceIdentity);
  if (config.retainPatientCharacteristics) codes.push(METHOD_CODES.retainPatientCharacteristics);
  return codes;
}

/** Applies the profile to an instance's meta and dataset (the elements before Pixel Data). */
export function deidentifyDataset(meta: readonly DicomElement[], dataset: readonly DicomElement[], ctx: DeidentifyContext): DeidentifiedDataset {
  const charset = textOf(dataset, SPECIFIC_CHARACTER_SET, '');
  const originalPatientId = decodeText(valueOf(dataset, PATIENT_ID) ?? Buffer.alloc(0), charset);
  const burned = textOf(dataset, BURNED_IN_ANNOTATION, '').toUpperCase();
  // A pseudonym, not an empty ID: the same patient keeps one identity across studies, like in the HL7 feeds.
  const patientPseudonym = pseudonym(ctx.key, originalPatientId);
  const patient = { pseudonym: patientPseudonym, charset, needles: needlesOf(decodeText(valueOf(dataset, PATIENT_NAME) ?? Buffer.alloc(0), charset), originalPatientId) };
  const out = deidentifyItem(dataset, ctx, patient);
  const method = methodOf(ctx.config);
  out.push(
    text(PATIENT_IDENTITY_REMOVED, 'CS', 'YES'),
    text(DEIDENTIFICATION_METHOD, 'LO', method.join('\\')),
    {
      tag: DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
      vr: 'SQ',
      items: methodCodes(ctx.config).map(([value, meaning]) => [text(CODE_VALUE, 'SH', value), text(CODING_SCHEME_DESIGNATOR, 'SH', 'DCM'), text(CODE_MEANING, 'LO', meaning)]),
    },
    text(LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED, 'CS', ctx.config.retainLongitudinalDates ? 'UNMODIFIED' : 'REMOVED'),
  );
  out.sort((a, b) => a.tag - b.tag);
  const sopInstanceUid = textOf(out, SOP_INSTANCE_UID, '');
  const newMeta = meta
    .filter((e) => e.tag !== 0x00020000 && !DROPPED_META.has(e.tag))
    .map((e) => (e.tag === MEDIA_STORAGE_SOP_INSTANCE_UID && sopInstanceUid ? text(MEDIA_STORAGE_SOP_INSTANCE_UID, 'UI', sopInstanceUid) : e));
  return {
    meta: newMeta,
    dataset: out,
    studyUid: textOf(out, STUDY_INSTANCE_UID, ''),
    seriesUid: textOf(out, SERIES_INSTANCE_UID, ''),
    sopInstanceUid,
    sopClassUid: textOf(out, SOP_CLASS_UID, ''),
    patientId: textOf(out, PATIENT_ID, ''),
    modality: textOf(out, MODALITY, ''),
    studyDate: textOf(out, STUDY_DATE, ''),
    burnedInAnnotation: burnedInAnnotation(burned, textOf(dataset, SOP_CLASS_UID, ''), textOf(dataset, MODALITY, '').toUpperCase()),
    method,
  };
}

/** The profile applied to elements found after Pixel Data (all X or private there). */
export function deidentifyElements(elements: readonly DicomElement[], ctx: DeidentifyContext): DicomElement[] {
  return deidentifyItem(elements, ctx, { pseudonym: pseudonym(ctx.key, ''), charset: '', needles: [] });
}

/** What the de-identifier knows of the instance's patient while it walks the dataset. */
interface Patient {
  /** Written in place of Patient's Name and Patient ID. */
  pseudonym: string;
  /** The instance's Specific Character Set, to decode kept text with. */
  charset: string;
  /** The decoded name, its components and the ID: a kept text value holding one is removed. */
  needles: string[];
}

/** Whether burned-in annotation may remain: as the instance says it; when it is silent, YES for the SOP classes and modalities known for it. */
export function burnedInAnnotation(said: string, sopClassUid: string, modality: string): 'YES' | 'NO' | 'UNKNOWN' {
  if (said === 'YES' || said === 'NO') return said;
  if (BURNED_IN_SOP_CLASSES.some((prefix) => (prefix.endsWith('.') ? sopClassUid.startsWith(prefix) : sopClassUid === prefix || sopClassUid.startsWith(`${prefix}.`)))) return 'YES';
  return BURNED_IN_MODALITIES.has(modality) ? 'YES' : 'UNKNOWN';
}

/** The patient's name (whole, each group and component, without the "^" and "=" separators) and ID, upper-cased, long enough not to match by chance. */
function needlesOf(name: string, id: string): string[] {
  const needles = new Set<string>();
  const add = (text: string, min: number): void => {
    const t = text.trim().toUpperCase();
    if ([...t].length >= min) needles.add(t);
  };
  for (const group of name.split('=')) {
    add(group.replace(/\^+/g, ''), MIN_NEEDLE_CHARACTERS);
    add(group.replace(/\^+/g, ' '), MIN_NEEDLE_CHARACTERS);
    for (const component of group.split('^')) add(component, MIN_NEEDLE_CHARACTERS);
  }
  add(id, MIN_ID_CHARACTERS);
  return [...needles];
}

function holdsPatient(element: DicomElement, patient: Patient): boolean {
  if (patient.needles.length === 0 || !element.value || !TEXT_VRS.has(element.vr)) return false;
  const text = decodeText(element.value, patient.charset).toUpperCase();
  return patient.needles.some((needle) => contains(text, needle));
}

/**
 * Whether text holds the needle: a Latin one as a whole word ("LI" is not in
 * "CLINICAL"), a Chinese one anywhere (Chinese text has no spaces between words).
 */
function contains(text: string, needle: string): boolean {
  if (!/^[\x20-\x7e]+$/.test(needle)) return text.includes(needle);
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    const before = text[at - 1];
    const after = text[at + needle.length];
    if ((before === undefined || !/[A-Z0-9]/.test(before)) && (after === undefined || !/[A-Z0-9]/.test(after))) return true;
  }
  return false;
}

function deidentifyItem(elements: readonly DicomElement[], ctx: DeidentifyContext, patient: Patient): DicomElement[] {
  const out: DicomElement[] = [];
  const creators = privateCreators(elements);
  const keptPrivate = new Set<number>();
  for (const element of elements) {
    const group = element.tag >>> 16;
    const low = element.tag & 0xffff;
    if (low === 0x0000) continue; // group lengths: retired in datasets, and wrong once values change
    if (group % 2 === 1) {
      if (low >= 0x1000 && keepsPrivate(ctx.keepPrivate, element.tag, creators.get(((group << 8) | (low >>> 8)) >>> 0))) {
        keptPrivate.add(element.tag);
        keptPrivate.add(((group << 16) | (low >>> 8)) >>> 0);
      }
      continue;
    }
    if (WRITTEN_HERE.has(element.tag)) continue;
    if (element.tag === PATIENT_ID || element.tag === PATIENT_NAME) {
      out.push(text(element.tag, element.vr, patient.pseudonym));
      continue;
    }
    const shaped = applyAction(element, ctx, patient);
    if (shaped && !(shaped === element && holdsPatient(element, patient))) out.push(shaped);
  }
  if (keptPrivate.size > 0) {
    // Kept private attributes (and the creator of their block) as they were, in tag order with the rest.
    for (const element of elements) if (keptPrivate.has(element.tag) && !holdsPatient(element, patient)) out.push(element);
    out.sort((a, b) => a.tag - b.tag);
  }
  return out;
}

function applyAction(element: DicomElement, ctx: DeidentifyContext, patient: Patient): DicomElement | undefined {
  const enter = (): DicomElement => ({ ...element, items: element.items!.map((item) => deidentifyItem(item, ctx, patient)) });
  switch (actionFor(element.tag, ctx.config satisfies ProfileOptions)) {
    case 'keep':
      return element.items ? enter() : element;
    case 'remove':
      return undefined;
    case 'empty':
      return element.items ? { ...element, items: [] } : { ...element, value: Buffer.alloc(0) };
    case 'dummy':
      // A sequence with a dummy value: no items. Entering it would keep what the
      // table does not name inside (an institution's or an operator's codes).
      if (element.items) return { ...element, items: [] };
      if (element.vr === 'UI') return remapped(element, ctx.key);
      return { ...element, value: dummyValue(element.vr) };
    case 'remapUid':
      return element.items ? enter() : remapped(element, ctx.key);
    case 'enterSequence':
      return element.items ? enter() : undefined;
  }
}

function remapped(element: DicomElement, key: HospitalKey): DicomElement {
  const uids = (element.value ?? Buffer.alloc(0)).toString('latin1').replace(/[\0 ]+$/, '');
  if (uids === '') return element;
  // Padded as a UID (NUL) whatever the VR says: a standard UID attribute may arrive as UN.
  return { tag: element.tag, vr: element.vr, value: padded(uids.split('\\').map((uid) => (uid.trim() === '' ? '' : remapUid(key, uid.trim()))).join('\\'), 'UI') };
}

/** A dummy value of the VR: harmless and valid (PS3.5 6.2). */
function dummyValue(vr: string): Buffer {
  switch (vr) {
    case 'DA':
      return padded('19000101', vr);
    case 'TM':
      return padded('000000', vr);
    case 'DT':
      return padded('19000101000000', vr);
    case 'AS':
      return padded('000Y', vr);
    case 'DS':
    case 'IS':
      return padded('0', vr);
    case 'US':
    case 'SS':
      return Buffer.alloc(2);
    case 'UL':
    case 'SL':
    case 'FL':
    case 'AT':
      return Buffer.alloc(4);
    case 'FD':
    case 'SV':
    case 'UV':
      return Buffer.alloc(8);
    case 'AE':
    case 'CS':
    case 'LO':
    case 'LT':
    case 'PN':
    case 'SH':
    case 'ST':
    case 'UC':
    case 'UT':
      return padded('ANONYMIZED', vr);
    default:
      // Binary and URI values: no harmless non-empty value to invent.
      return Buffer.alloc(0);
  }
}

function padded(value: string, vr: string): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.from([vr === 'UI' ? 0 : 0x20])]);
}

function text(tag: number, vr: string, value: string): DicomElement {
  return { tag, vr, value: padded(value, vr) };
}

/** Private creators of an item: block (group << 8 | xx) → creator text of (gggg,00xx). */
function privateCreators(elements: readonly DicomElement[]): Map<number, string> {
  const creators = new Map<number, string>();
  for (const element of elements) {
    const group = element.tag >>> 16;
    const low = element.tag & 0xffff;
    if (group % 2 === 1 && low >= 0x0010 && low <= 0x00ff && element.value) {
      creators.set(((group << 8) | low) >>> 0, element.value.toString('latin1').replace(/[\0 ]+$/, '').trim());
    }
  }
  return creators;
}

function valueOf(elements: readonly DicomElement[], tag: number): Buffer | undefined {
  return elements.find((e) => e.tag === tag)?.value;
}

function textOf(elements: readonly DicomElement[], tag: number, fallback: string): string {
  const value = valueOf(elements, tag);
  return value === undefined ? fallback : value.toString('latin1').replace(/[\0 ]+$/, '').trim();
}
