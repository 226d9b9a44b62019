// The senders that reused a control id with other content, for the dashboard and
// the control-id-reused alert: per sender (MSH-3/MSH-4) the latest control id, how
// many times, and when. Bounded (CONTROL_ID_REUSE_SENDERS) since MSH-3/MSH-4 are
// whatever a peer sends; values are clipped and stripped of control characters,
// for they end up in logs, syslog and webhooks.

/** One sender's reused control ids, as GET /v1/status and the alert evaluator see them. */
export interface ControlIdReuse {
  /** MSH-3 (components joined by ^), at most CONTROL_ID_REUSE_TEXT_CHARS characters. */
  sendingApplication: string;
  /** MSH-4, likewise. */
  sendingFacility: string;
  /** MSH-10 of the latest reuse. */
  controlId: string;
  /** Reuses from this sender since the agent started. */
  count: number;
  /** When the latest one was journaled, ms since the epoch. */
  lastAtMs: number;
  /** The seq it was journaled as. */
  seq: number;
}

/** Senders remembered; the one not heard from longest is forgotten first. */
export const CONTROL_ID_REUSE_SENDERS = 32;
/** Characters kept of MSH-3, MSH-4 and MSH-10. */
export const CONTROL_ID_REUSE_TEXT_CHARS = 64;

export class ControlIdReuseLog {
  /** By sender, in order of the latest reuse (a Map keeps insertion order). */
  private readonly bySender = new Map<string, ControlIdReuse>();

  /** Records one reuse; returns the sender's entry as stored (clipped). */
  record(reuse: { sendingApplication: string; sendingFacility: string; controlId: string; seq: number; atMs: number }): ControlIdReuse {
    const sendingApplication = clip(reuse.sendingApplication);
    const sendingFacility = clip(reuse.sendingFacility);
    const key = `${sendingApplication}\u0000${sendingFacility}`;
    const count = (this.bySender.get(key)?.count ?? 0) + 1;
    const entry: ControlIdReuse = { sendingApplication, sendingFacility, controlId: clip(reuse.controlId), count, lastAtMs: reuse.atMs, seq: reuse.seq };
    this.bySender.delete(key);
    this.bySender.set(key, entry);
    if (this.bySender.size > CONTROL_ID_REUSE_SENDERS) this.bySender.delete(this.bySender.keys().next().value!);
    return entry;
  }

  /** Newest first. */
  list(): ControlIdReuse[] {
    return [...this.bySender.values()].reverse().map((entry) => ({ ...entry }));
  }
}

function clip(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, CONTROL_ID_REUSE_TEXT_CHARS);
}
