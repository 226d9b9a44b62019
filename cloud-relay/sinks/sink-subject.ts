// Where one feed's events go on NATS and how each message names the event it
// carries. Hospital ids and feed names (protocol/names.ts) may hold '.', which
// NATS reads as a token separator: inside a subject token it is written '~', a
// character names never hold, so the mapping is one to one and reversible
// ("h.zj.1"/"adt" -> "wardline.h~zj~1.adt"). The message id keeps the names as
// they are: it is a header, not a subject.

/** `${prefix}.${hospital}.${feed}` with '.' in the names written '~'. */
export function sinkSubject(prefix: string, hospital: string, feed: string): string {
  return `${prefix}.${subjectToken(hospital)}.${subjectToken(feed)}`;
}

/** A name as one subject token. */
export function subjectToken(name: string): string {
  return name.replaceAll('.', '~');
}

/** The Nats-Msg-Id of the event: `${hospital}/${feed}/${seq}` (names hold no '/'). */
export function sinkMessageId(hospital: string, feed: string, seq: number): string {
  return `${hospital}/${feed}/${seq}`;
}

/** The seq a message id of (hospital, feed) names; undefined for an id that is not one of the feed's. */
export function seqOfMessageId(id: string | undefined, hospital: string, feed: string): number | undefined {
  const prefix = `${hospital}/${feed}/`;
  if (id === undefined || !id.startsWith(prefix)) return undefined;
  const text = id.slice(prefix.length);
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return undefined;
  const seq = Number(text);
  return Number.isSafeInteger(seq) ? seq : undefined;
}
