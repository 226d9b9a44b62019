// The throughput chart's top: a drain after a cut sends thousands a second for
// a minute, and scaled to that spike the normal 20 a second is a flat line for
// the next 30 minutes. So the axis ends a little above a high percentile of what
// is shown; the spike runs off the top (its value is in the legend). Pure.

/** The axis is fitted to this percentile of the values shown. */
export const CLIP_PERCENTILE = 0.95;
/** …times this, so normal peaks stay inside. */
export const CLIP_HEADROOM = 1.5;

/**
 * The top of a y axis for `columns` (arrays of numbers or null): the largest
 * value when nothing stands out, else CLIP_HEADROOM × the CLIP_PERCENTILE value;
 * never below `floor`.
 */
export function clippedTop(columns, floor = 5) {
  const values = columns.flat().filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (values.length === 0) return floor;
  const max = values[values.length - 1];
  const high = values[Math.min(values.length - 1, Math.floor(values.length * CLIP_PERCENTILE))];
  return Math.max(floor, Math.min(max * 1.1, high * CLIP_HEADROOM));
}
