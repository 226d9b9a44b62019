// Text values decoded per Specific Character Set (0008,0005) (PS3.3 C.12.1.1.2),
// for the values the de-identifier must read as text: the Patient ID it
// pseudonymises, so a GB18030 ID yields the same pseudonym as the same ID in an
// HL7 feed (which hashes decoded text), and the patient's name and ID it looks
// for in the text values it keeps (a GB18030 name is found in a GB18030
// description, whatever bytes the name is made of). Kept values are never re-encoded: the
// output declares the input's character set and keeps kept bytes as they were;
// everything the de-identifier writes is ASCII, valid in every character set
// DICOM defines (ISO 2022 ones start each value in ASCII, PS3.5 6.1.2.5.3).
import iconv from 'iconv-lite';

const ENCODINGS: Readonly<Record<string, string>> = {
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
  ISO_IR_166: 'tis620',
  ISO_IR_13: 'shift_jis',
  ISO_IR_192: 'utf8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** The iconv encoding of a Specific Character Set value (its first value; ISO 2022 code extensions read as their base set). */
export function encodingOf(specificCharacterSet: string): string {
  const first = (specificCharacterSet.split('\\')[0] ?? '').trim().replace(/^ISO 2022 IR /, 'ISO_IR ');
  return ENCODINGS[first.replace(/ /g, '_')] ?? 'latin1';
}

/** A text value's bytes decoded, trailing padding (spaces, NUL) removed. */
export function decodeText(bytes: Buffer, specificCharacterSet: string): string {
  const encoding = encodingOf(specificCharacterSet);
  // An ISO 2022 value with escape sequences: decoded byte for byte (stable for hashing; iconv-lite has no ISO 2022).
  const text = bytes.includes(0x1b) || !iconv.encodingExists(encoding) ? bytes.toString('latin1') : iconv.decode(bytes, encoding);
  return text.replace(/[\0 ]+$/, '').replace(/^ +/, '');
}
