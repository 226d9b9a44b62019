// Chooses the compression level of a feed's next batch from what is scarce right
// now: the line, or the CPU.
//
// Compression trades CPU for bytes, and which of the two is scarce changes by the
// hour. On a leased line with a rate cap (or a relay far away), the uplink makes
// batches wait: every byte saved is time saved, so compress harder. On a fast LAN or
// an idle line nothing waits for the line, and brotli's CPU is taken from the same
// two cores that journal HL7, answer ACKs and read the backlog: compress lighter.
// Measured on the outage mix (1,000-event batches, one core): brotli quality 1
// compresses 341 MB/s to 10.8 % of the raw size, quality 5 58 MB/s to 7.5 %,
// quality 7 32 MB/s to 7.2 %.
//
// The signal is the one the hand-over already has: a batch was line-bound when it
// waited for the uplink (its rate cap or in-flight cap) or found the feed's window
// of unacknowledged batches full. A few batches in a row on the same side move the
// level one step, so one slow ack does not swing it. The level is not on the wire
// (the relay decodes any level), so it may change from one batch to the next.
import { COMPRESSION_LEVEL_RANGE, DEFAULT_COMPRESSION_LEVEL, type CodecName } from '../../protocol/index.js';

/** A fixed level for the codec, or 'adaptive': chosen batch by batch. */
export type CompressionLevelSetting = 'adaptive' | number;

/** The levels adaptive moves between, lightest first; it starts at the codec's default. */
export const ADAPTIVE_LEVELS: Readonly<Record<CodecName, readonly number[]>> = {
  none: [0],
  gzip: [1, 3, 6, 9],
  deflate: [1, 3, 6, 9],
  // Quality 2–4 sit between 1 and 5 in both speed and size; 6 adds almost nothing over 5.
  brotli: [1, 3, 5, 7],
};

/** Consecutive batches on the same side before the level moves one step. */
export const ADAPTIVE_STEP_AFTER_BATCHES = 4;

/** A batch that waited at least this long for the uplink was held back by the line. */
export const LINE_WAIT_MS = 2;

export interface CompressionChoice {
  codec: CodecName;
  level: number;
  setting: 'adaptive' | 'fixed';
}

export class CompressionGovernor {
  private readonly levels: readonly number[];
  private index: number;
  /** Batches in a row on one side: positive line-bound, negative not. */
  private streak = 0;

  constructor(
    private readonly codec: CodecName,
    private readonly setting: CompressionLevelSetting,
  ) {
    if (setting === 'adaptive') {
      this.levels = ADAPTIVE_LEVELS[codec];
      this.index = Math.max(0, this.levels.indexOf(DEFAULT_COMPRESSION_LEVEL[codec]));
    } else {
      const { min, max } = COMPRESSION_LEVEL_RANGE[codec];
      if (!Number.isInteger(setting) || setting < min || setting > max) {
        throw new RangeError(`compression level ${setting} is outside ${codec}'s levels ${min}–${max}`);
      }
      this.levels = [setting];
      this.index = 0;
    }
  }

  /** The level the next batch is compressed at. */
  get level(): number {
    return this.levels[this.index]!;
  }

  get choice(): CompressionChoice {
    return { codec: this.codec, level: this.level, setting: this.setting === 'adaptive' ? 'adaptive' : 'fixed' };
  }

  /** After each batch of events handed over: whether the line held it back. */
  observe(lineBound: boolean): void {
    if (this.levels.length === 1) return;
    this.streak = lineBound ? Math.max(1, this.streak + 1) : Math.min(-1, this.streak - 1);
    if (this.streak >= ADAPTIVE_STEP_AFTER_BATCHES) {
      this.index = Math.min(this.levels.length - 1, this.index + 1);
      this.streak = 0;
    } else if (this.streak <= -ADAPTIVE_STEP_AFTER_BATCHES) {
      this.index = Math.max(0, this.index - 1);
      this.streak = 0;
    }
  }
}
