// A small seeded PRNG so that every corpus, demo run and benchmark can be replayed
// byte for byte from its seed. mulberry32: 32-bit state, period 2^32, fast and good
// enough for test data (it is not, and must never be used as, a source of secrets).

/** A seed: a 32-bit integer, or any string (hashed to 32 bits). */
export type Seed = number | string;

/**
 * Hashes a seed to 32 bits: FNV-1a for strings, then a murmur3 finaliser for both kinds,
 * so that neighbouring seeds (1, 2, 3…) start far apart.
 */
export function hashSeed(seed: Seed): number {
  let h: number;
  if (typeof seed === 'number') {
    h = seed >>> 0;
  } else {
    h = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) {
      h ^= seed.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class SeededRandom {
  private state: number;

  /** @param seed the same seed always yields the same sequence. */
  constructor(readonly seed: Seed) {
    this.state = hashSeed(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (max < min) throw new RangeError(`int(${min}, ${max}): max is below min`);
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A float in [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability p (0..1). */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty array');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** One value, chosen with probability proportional to its weight (weights need not sum to 1). */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, weight] of entries) total += weight;
    if (!(total > 0)) throw new RangeError('weighted() needs at least one positive weight');
    let roll = this.next() * total;
    for (const [value, weight] of entries) {
      roll -= weight;
      if (roll < 0) return value;
    }
    // Floating-point rounding can leave roll a hair above zero after the last entry.
    return entries[entries.length - 1]![0];
  }

  /** `count` distinct elements in random order (all of them if count ≥ length). */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = items.slice();
    const n = Math.min(count, copy.length);
    for (let i = 0; i < n; i++) {
      const j = this.int(i, copy.length - 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, n);
  }

  /** A string of `length` decimal digits (leading zeros allowed). */
  digits(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += String(this.int(0, 9));
    return out;
  }

  /**
   * An independent generator derived from this one's seed and a label, so that one part
   * of a corpus (say, the patient pool) does not shift when another part draws more or
   * fewer numbers.
   */
  fork(label: string): SeededRandom {
    return new SeededRandom(`${String(this.seed)}/${label}`);
  }
}
