// Makes a decoded HL7 message's MSH-18 tell the truth about the text the agent stores.
// The agent decodes the wire bytes per MSH-18 (hl7-charset.ts) and stores UTF-8; a
// vendor that forwards the stored text to an engine honouring MSH-18 (Mirth, HAPI)
// would decode UTF-8 bytes as GB18030 if MSH-18 still said "GB 18030-2000".
//
// Failure modes handled:
//  1. Any delimiters: MSH-1 and MSH-2 are read from the message itself; the new value
//     is escaped with the message's escape character if it contains a delimiter.
//  2. Hex escapes (\Xhh..\) carry raw bytes in the message's charset: they are
//     re-encoded as the UTF-8 bytes of the same characters, so "\XD6D0\" (中 in GBK)
//     becomes "\XE4B8AD\". MSH-2 itself is never read as an escape.
//  3. MSH-18 with repetitions or components (alternate character sets, ISO 2022):
//     the whole field is replaced, because after decoding there is one charset.
//  4. An MSH with fewer than 18 fields: empty fields are added up to MSH-18.
//  5. A message whose wire bytes were UTF-8 already (declared "UNICODE UTF-8", "UTF-8",
//     ASCII or nothing): returned unchanged. Its stored bytes are the bytes the sender
//     sent, so the vendor gets exactly what the hospital's system produced; the header
//     is only rewritten when decoding changed the bytes.
//  6. A text that is not an MSH-first message: returned unchanged (the parser reports it).

/** The HL7 table 0211 name of the charset the agent stores HL7 text in. */
export const STORED_HL7_CHARSET = 'UNICODE UTF-8';

/** What the wire said and what decoded it (DecodedHl7's charset and encoding). */
export interface WireCharset {
  /** MSH-18 as received (first repetition), "" when absent. */
  charset: string;
  /** The iconv-lite encoding that decoded the bytes, e.g. "utf8", "gb18030". */
  encoding: string;
  /** Turns the bytes of a hex escape into text in the wire charset; default: UTF-8. */
  decodeBytes?: (bytes: Buffer) => string;
}

/** True when the stored text must say UNICODE UTF-8 in MSH-18: decoding changed its bytes (failure mode 5). */
export function needsMsh18Rewrite(wire: WireCharset): boolean {
  if (wire.charset.trim().toUpperCase().replace(/[\s\-_]/g, '') === 'UNICODEUTF8') return false;
  return wire.encoding !== 'utf8';
}

/**
 * The message text with MSH-18 = "UNICODE UTF-8" and hex escapes re-encoded in UTF-8,
 * or the same string when it needs no change (see needsMsh18Rewrite).
 */
export function rewriteMsh18(text: string, wire: WireCharset): string {
  if (!text.startsWith('MSH') || text.length < 8) return text;
  if (!needsMsh18Rewrite(wire)) return text;
  const field = text[3]!;
  let end = 0;
  while (end < text.length && text[end] !== '\r' && text[end] !== '\n') end++;
  const parts = text.slice(0, end).split(field);
  const encodingChars = parts[1] ?? '';
  const [component, repetition, escape, subcomponent, truncation] = [...encodingChars];
  const delimiters = [field, component, repetition, subcomponent, truncation].filter((d): d is string => d !== undefined);
  // MSH-n is parts[n-1]: parts[0] is "MSH", MSH-1 is the separator itself.
  while (parts.length < 18) parts.push('');
  parts[17] = escapeValue(STORED_HL7_CHARSET, delimiters, escape, { field, component, repetition, subcomponent, truncation });

  const mshHead = `MSH${field}${encodingChars}`;
  const msh = parts.join(field);
  let rest = msh.slice(mshHead.length) + text.slice(end);
  if (escape !== undefined && wire.encoding !== 'utf8') rest = reencodeHexEscapes(rest, escape, wire.decodeBytes ?? ((b) => b.toString('utf8')));
  return mshHead + rest;
}

function escapeValue(
  value: string,
  delimiters: readonly string[],
  escape: string | undefined,
  d: { field: string; component?: string; repetition?: string; subcomponent?: string; truncation?: string },
): string {
  if (escape === undefined || !delimiters.some((c) => value.includes(c)) && !value.includes(escape)) return value;
  let out = '';
  for (const ch of value) {
    if (ch === escape) out += `${escape}E${escape}`;
    else if (ch === d.field) out += `${escape}F${escape}`;
    else if (ch === d.component) out += `${escape}S${escape}`;
    else if (ch === d.subcomponent) out += `${escape}T${escape}`;
    else if (ch === d.repetition) out += `${escape}R${escape}`;
    else if (ch === d.truncation) out += `${escape}P${escape}`;
    else out += ch;
  }
  return out;
}

function reencodeHexEscapes(text: string, escape: string, decodeBytes: (bytes: Buffer) => string): string {
  const e = escape.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const hex = new RegExp(`${e}X((?:[0-9A-Fa-f]{2})+)${e}`, 'g');
  return text.replace(hex, (_all, digits: string) => {
    const utf8 = Buffer.from(decodeBytes(Buffer.from(digits, 'hex')), 'utf8');
    return `${escape}X${utf8.toString('hex').toUpperCase()}${escape}`;
  });
}
