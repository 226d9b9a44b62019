// The bytes all of a listener's connections may hold at once in unfinished and
// unanswered frames. Without it each connection is bounded only by maxFrameBytes,
// so 40 peers holding unfinished 15 MB frames added 419 MB to the agent. Pure: the
// connections reserve what they hold after each read and release it when the
// frame is answered or the connection closes.
//
// Unfinished frames may take only part of the budget (PARTIAL_SHARE): peers that
// open frames and never finish them cannot starve complete messages, which are
// answered and released within one commit.

/** Default bound on bytes held across an MLLP listener's connections: 64 MiB (four full frames). */
export const DEFAULT_MLLP_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** The share of the budget unfinished frames may hold together. */
const PARTIAL_SHARE = 0.75;

/** What the bytes are: a frame still arriving, or a complete one waiting for its answer. */
export type MllpHeldKind = 'partial' | 'complete';

export class MllpByteBudget {
  private readonly held: Record<MllpHeldKind, number> = { partial: 0, complete: 0 };
  /** Most bytes unfinished frames may hold together. */
  readonly partialLimitBytes: number;

  /** @param limitBytes most bytes held at once across connections */
  constructor(readonly limitBytes: number) {
    this.partialLimitBytes = Math.floor(limitBytes * PARTIAL_SHARE);
  }

  /**
   * What is wrong with this budget for frames of up to `maxFrameBytes`, naming the
   * keys; undefined when the largest frame fits in the unfinished frames' share.
   */
  problemWith(maxFrameBytes: number): string | undefined {
    if (this.partialLimitBytes >= maxFrameBytes) return undefined;
    return `expected at least 4/3 of maxFrameBytes (${maxFrameBytes} bytes): unfinished frames may hold 3/4 of maxBufferedBytes, and the largest frame must fit`;
  }

  /** Bytes held now, both kinds. */
  get usedBytes(): number {
    return this.held.partial + this.held.complete;
  }

  /** Takes `bytes` more of a kind if they fit under the limits; false (and nothing taken) if not. */
  tryReserve(bytes: number, kind: MllpHeldKind): boolean {
    if (this.usedBytes + bytes > this.limitBytes) return false;
    if (kind === 'partial' && this.held.partial + bytes > this.partialLimitBytes) return false;
    this.held[kind] += bytes;
    return true;
  }

  release(bytes: number, kind: MllpHeldKind): void {
    this.held[kind] = Math.max(0, this.held[kind] - bytes);
  }
}
