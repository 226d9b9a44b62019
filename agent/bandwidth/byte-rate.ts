// Rates as operators write them: "20Mbit/s", "100Mbps", "2.5MB/s", "512KiB/s", a
// plain number of bytes per second, or "unlimited".
//
// Bits and bytes are told apart by spelling, never by the case of one letter:
// "20Mb/s" and "20MBps" are refused as ambiguous, because reading them the wrong
// way is an 8x mistake on a line the hospital shares with clinical traffic.
// Prefixes: k/K, M, G are decimal (carriers sell lines in decimal units); Ki, Mi,
// Gi are binary.
import { InvalidRateError } from './errors.js';

const PREFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
};

const NUMBER_AND_UNIT = /^(\d+(?:\.\d+)?)\s*(\S*)$/;
const BYTES_PER_SECOND = /^(|k|K|M|G|Ki|Mi|Gi)B\/s$/;
const BITS_PER_SECOND = /^(|k|K|M|G|Ki|Mi|Gi)bit\/s$/;
const BPS = /^(|k|K|M|G)bps$/;
const AMBIGUOUS = /^(|k|K|M|G|Ki|Mi|Gi)(b\/s|Bps)$/;

const EXPECTED = 'expected a rate such as "20Mbit/s", "100Mbps", "2.5MB/s", "512KiB/s", a number of bytes per second, or "unlimited"';

/**
 * Reads a rate. Returns bytes per second, or null for "unlimited".
 * Throws InvalidRateError (with what was wrong) for anything else, including
 * zero and rates below one byte per second.
 */
export function parseByteRate(input: string | number): number | null {
  if (typeof input === 'number') return positive(input, input);
  const text = input.trim();
  if (/^unlimited$/i.test(text)) return null;
  const match = NUMBER_AND_UNIT.exec(text);
  if (!match) throw new InvalidRateError(input, EXPECTED);
  const value = Number(match[1]);
  const unit = match[2]!;
  if (unit === '') return positive(value, input);
  let found: RegExpExecArray | null;
  if ((found = BYTES_PER_SECOND.exec(unit))) return positive(value * PREFIXES[found[1]!]!, input);
  if ((found = BITS_PER_SECOND.exec(unit)) || (found = BPS.exec(unit))) return positive((value * PREFIXES[found[1]!]!) / 8, input);
  if ((found = AMBIGUOUS.exec(unit))) {
    const prefix = found[1]!;
    throw new InvalidRateError(input, `"${text}" is ambiguous: write "${match[1]}${prefix}bit/s" (bits) or "${match[1]}${prefix}B/s" (bytes)`);
  }
  if (/^(|k|K|M|G|Ki|Mi|Gi)(B|bit)$/.test(unit)) throw new InvalidRateError(input, `"${text}" is a size, not a rate: add "/s"`);
  throw new InvalidRateError(input, `unknown unit "${unit}": ${EXPECTED}`);
}

function positive(bytesPerSecond: number, input: string | number): number {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 1) {
    throw new InvalidRateError(input, `expected at least 1 byte/s (use timetable classes to stop a class sending); ${EXPECTED}`);
  }
  return bytesPerSecond;
}

/** "2.5 MB/s (20 Mbit/s)", "unlimited": for status lines and logs. */
export function formatByteRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null) return 'unlimited';
  return `${scaled(bytesPerSecond, 'B/s')} (${scaled(bytesPerSecond * 8, 'bit/s')})`;
}

function scaled(value: number, unit: string): string {
  const steps: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [factor, prefix] of steps) {
    if (value >= factor) return `${trim(value / factor)} ${prefix}${unit}`;
  }
  return `${trim(value)} ${unit}`;
}

function trim(value: number): string {
  // Below 1 a measured rate is the tail of an average: two decimals, never "3.13e-8".
  if (value < 1) return value < 0.005 ? '0' : value.toFixed(2);
  return String(Number(value.toPrecision(3)));
}
