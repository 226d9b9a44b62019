// A small property-based testing loop (fast-check is not a dependency): `runs`
// cases drawn from a SeededRandom, so a failure names the seed and the case and
// replays exactly. Not shrinking; the generators are kept small instead.
import { SeededRandom } from '../../simulator/index.js';

/** Default cases per property. */
export const DEFAULT_RUNS = 300;

/**
 * Checks `property` on `runs` generated cases; throws with the seed, the case
 * number and the case itself when one fails.
 */
export function forAll<T>(seed: string, generate: (rng: SeededRandom) => T, property: (value: T, rng: SeededRandom) => void, runs = DEFAULT_RUNS): void {
  for (let i = 0; i < runs; i++) {
    const rng = new SeededRandom(`${seed}/${i}`);
    const value = generate(rng);
    try {
      property(value, rng);
    } catch (error) {
      const shown = JSON.stringify(value, (_k, v: unknown) => (Buffer.isBuffer(v) ? `<${v.length} bytes>` : v))?.slice(0, 2000);
      throw new Error(`property "${seed}" failed on case ${i} (replay: new SeededRandom("${seed}/${i}")): ${(error as Error).message}\n  case: ${shown}`, { cause: error });
    }
  }
}

/** A random string of characters from `alphabet`, length in [min, max]. */
export function stringOf(rng: SeededRandom, alphabet: string, min: number, max: number): string {
  const chars = Array.from(alphabet);
  let out = '';
  const length = rng.int(min, max);
  for (let i = 0; i < length; i++) out += rng.pick(chars);
  return out;
}

/** Printable text with Han characters, HL7 delimiters, escapes and line breaks mixed in. */
export const TRICKY_ALPHABET = 'abcXYZ0123456789 张王李欧阳伟芳明区市省路号|^~\\&:/-_.,+=*"\'·\n\r\t';
