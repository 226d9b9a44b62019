// The disk's badge beside its forecast. Pure.

/** A disk Wardline fills within this is never shown "OK", in seconds. */
export const FILLING_SOON_SECONDS = 24 * 3600;

/** The agent's disk state, but "soon" (filling) where OK would stand beside "full in hours". */
export function diskBadge(state, fullInSeconds) {
  return state === 'ok' && fullInSeconds !== null && fullInSeconds < FILLING_SOON_SECONDS ? 'soon' : state;
}
