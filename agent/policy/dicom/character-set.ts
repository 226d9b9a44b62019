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
import { textEncoding } from '../../imaging/index.js';

/** A text value's bytes decoded, trailing padding (spaces, NUL) removed. */
export function decodeText(bytes: Buffer, specificCharacterSet: string): string {
  const encoding = textEncoding(specificCharacterSet);
  // An ISO 2022 value with escape sequences: decoded byte for byte (stable for hashing; iconv-lite has no ISO 2022).
  const text = bytes.includes(0x1b) || !iconv.encodingExists(encoding) ? bytes.toString('latin1') : iconv.decode(bytes, encoding);
  return text.replace(/[\0 ]+$/, '').replace(/^ +/, '');
}
