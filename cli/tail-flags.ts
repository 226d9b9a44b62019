// The flags of `wardline feed tail` that need checking together, checked before any
// connection: a bad one is one line on stderr and exit 2.

/** A bad combination or value of feed tail flags; the command exits 2. */
export class TailFlagError extends Error {
  override readonly name = 'TailFlagError';
}

export interface TailFlagInput {
  after?: string;
  afterTime?: string;
  consumer?: string;
  commit?: boolean;
  streams?: string;
  types?: string;
  format?: string;
}

export interface TailFlags {
  /** undefined: from --after-time, or the consumer's committed cursor, or 0. */
  after?: number;
  afterTimeMs?: number;
  consumer?: string;
  commit: boolean;
  streams: string[];
  messageTypes: string[];
  format: 'ndjson' | 'text';
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const CONSUMER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function list(value: string | undefined, flag: string): string[] {
  if (value === undefined) return [];
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new TailFlagError(`${flag}: expected a comma-separated list without empty items, got "${value}"`);
  return items;
}

/** @throws TailFlagError naming the flag and the value. */
export function parseTailFlags(input: TailFlagInput): TailFlags {
  const format = input.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'text') throw new TailFlagError(`--format must be ndjson or text, got "${format}"`);
  let after: number | undefined;
  if (input.after !== undefined) {
    if (!/^\d+$/.test(input.after) || !Number.isSafeInteger(Number(input.after))) throw new TailFlagError(`--after: expected a seq (a whole number ≥ 0), got "${input.after}"`);
    after = Number(input.after);
  }
  let afterTimeMs: number | undefined;
  if (input.afterTime !== undefined) {
    if (after !== undefined) throw new TailFlagError('--after and --after-time name the start twice; give one of them');
    const ms = Date.parse(input.afterTime);
    if (!ISO_8601.test(input.afterTime) || Number.isNaN(ms)) throw new TailFlagError(`--after-time: expected an ISO 8601 time such as 2024-01-05T08:30:00Z, got "${input.afterTime}"`);
    afterTimeMs = ms;
  }
  if (input.consumer !== undefined && !CONSUMER_NAME.test(input.consumer)) {
    throw new TailFlagError(`--consumer: expected a name of letters, digits, ".", "_" or "-" (at most 64), got "${input.consumer}"`);
  }
  if (input.commit === true && input.consumer === undefined) throw new TailFlagError('--commit needs --consumer NAME: a cursor is committed under a consumer name');
  return {
    ...(after !== undefined ? { after } : {}),
    ...(afterTimeMs !== undefined ? { afterTimeMs } : {}),
    ...(input.consumer !== undefined ? { consumer: input.consumer } : {}),
    commit: input.commit === true,
    streams: list(input.streams, '--streams'),
    messageTypes: list(input.types, '--types'),
    format,
  };
}
