// What makes a second message with the same MSH-10 a retransmission rather than a
// different message: its content. A sender's retransmission is the same message,
// possibly with a new MSH-7 (some interface engines restamp the send time on every
// attempt); a spoofed message that took the sender's next control id, or a sender
// whose counter reset, has other content and must be journaled, not acknowledged
// and dropped.
//
// The digest covers the message as decoded (the text the journal stores, so it can
// be recomputed from any journaled body), segment by segment:
//  - MSH-7 is left out: it is when the message was sent, not what it says.
//  - Segment terminators are normalised (CR, CRLF or LF, blank lines dropped), as
//    the parser already does: engines differ in them from one attempt to the next,
//    and they carry nothing of the message.
//  - Nothing else is left out. MSH-10 is the same by definition; MSH-3/MSH-4 are
//    the dedupe scope; any other difference (EVN-2, a result value) is a
//    different message, and journaling it twice costs a duplicate a vendor sees
//    once per seq, while dropping it would lose a result.
import { createHash } from 'node:crypto';
import type { Hl7Message } from './hl7-message.js';

/** MSH-7's index in the MSH segment split on the field separator ("MSH" is 0, MSH-2 is 1). */
const MSH_7_INDEX = 6;

/** SHA-256 (hex) of the message's segments with MSH-7 emptied, joined by CR. */
export function hl7ContentDigest(message: Hl7Message): string {
  const [msh, ...rest] = message.segmentTexts;
  const fields = (msh ?? '').split(message.delimiters.field);
  if (fields.length > MSH_7_INDEX) fields[MSH_7_INDEX] = '';
  const hash = createHash('sha256').update(fields.join(message.delimiters.field), 'utf8');
  for (const segment of rest) hash.update('\r', 'utf8').update(segment, 'utf8');
  return hash.digest('hex');
}
