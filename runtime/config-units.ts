// Human units in config files: byte sizes ("2GB", "512MiB") and durations ("7d",
// "10s"), so an operator writes what they mean instead of counting zeros. Plain
// numbers are still accepted and mean bytes / milliseconds. A bad value is refused
// with what was expected, and validateConfig adds the key, the value and the file.
import { z } from 'zod';

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  // Decimal units, as disk vendors and `df -H` count.
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  // Binary units, as `df -h` and most dashboards count.
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const BYTE_SIZE = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i;
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i;

/**
 * Parses "2GB" (decimal, 2·10⁹), "512MiB" (binary, 512·2²⁰), "100B" or "4096" into
 * whole bytes. Returns undefined for anything else (negative, unknown unit, empty).
 */
export function parseByteSize(text: string): number | undefined {
  const match = BYTE_SIZE.exec(text);
  if (!match) return undefined;
  const factor = BYTE_UNITS[(match[2] || 'b').toLowerCase()];
  if (factor === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Parses "7d", "12h", "30m", "10s", "250ms" or "1w" into milliseconds; undefined otherwise. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const factor = DURATION_UNITS_MS[match[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  const ms = Math.round(Number(match[1]) * factor);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** A zod schema for a byte size: a non-negative whole number of bytes, or a string such as "2GB" or "512MiB". */
export function byteSizeSchema() {
  return z.any().transform((value: unknown, ctx) => {
    const bytes =
      typeof value === 'number' ? (Number.isSafeInteger(value) && value >= 0 ? value : undefined) : typeof value === 'string' ? parseByteSize(value) : undefined;
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a byte size such as "2GB", "512MiB" or a number of bytes' });
      return z.NEVER;
    }
    return bytes;
  });
}

/**
 * A zod schema for a duration: a positive whole number of milliseconds, or a string
 * such as "7d", "10s" or "250ms". `minMs` refuses values too short to be sensible,
 * `maxMs` values too long to be meant.
 */
export function durationSchema(options: { minMs?: number; maxMs?: number } = {}) {
  const minMs = options.minMs ?? 1;
  const maxMs = options.maxMs ?? Number.MAX_SAFE_INTEGER;
  const bounds = [minMs > 1 ? `at least ${minMs} ms` : '', maxMs < Number.MAX_SAFE_INTEGER ? `at most ${maxMs} ms` : ''].filter(Boolean).join(' and ');
  const expected = `expected a duration${bounds ? ` of ${bounds}` : ''} such as "7d", "12h", "10s", "250ms" or a number of milliseconds`;
  return z.any().transform((value: unknown, ctx) => {
    const ms =
      typeof value === 'number' ? (Number.isSafeInteger(value) ? value : undefined) : typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined || ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return ms;
  });
}
