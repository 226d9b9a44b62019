import { describe, expect, it } from 'vitest';
import {
  ChineseIdentityGenerator,
  MOBILE_PREFIXES,
  REGIONS,
  isValidResidentId,
  residentIdCheckCharacter,
  residentIdSex,
} from '../../simulator/chinese-identity.js';
import { SeededRandom } from '../../simulator/seeded-random.js';

function identities(seed: string | number, count: number) {
  const generator = new ChineseIdentityGenerator(new SeededRandom(seed));
  return Array.from({ length: count }, () => generator.next());
}

describe('resident ID check character (ISO 7064 MOD 11-2)', () => {
  it('computes X for the published example 11010519491231002X', () => {
    expect(residentIdCheckCharacter('11010519491231002')).toBe('X');
    expect(isValidResidentId('11010519491231002X')).toBe(true);
    expect(residentIdSex('11010519491231002X')).toBe('F');
  });

  it('computes digit check characters', () => {
    // Weighted sum of 44030519900101001 is 180; 180 mod 11 = 4 → '8'.
    expect(residentIdCheckCharacter('44030519900101001')).toBe('8');
    expect(isValidResidentId('440305199001010018')).toBe(true);
  });

  it('rejects a changed digit, a wrong check character and an impossible date', () => {
    expect(isValidResidentId('11010519491231003X')).toBe(false);
    expect(isValidResidentId('110105194912310029')).toBe(false);
    const first17 = '11010519490230002'; // 30 February
    expect(isValidResidentId(first17 + residentIdCheckCharacter(first17))).toBe(false);
    expect(isValidResidentId('11010519491231002x')).toBe(false);
    expect(isValidResidentId('1101051949123100X')).toBe(false);
  });

  it('refuses input that is not 17 digits', () => {
    expect(() => residentIdCheckCharacter('1101051949123100')).toThrow(RangeError);
    expect(() => residentIdCheckCharacter('1101051949123100A')).toThrow(RangeError);
  });
});

describe('ChineseIdentityGenerator', () => {
  const people = identities('identity-test', 2000);

  it('issues valid, unique resident IDs whose birth date and sex match the person', () => {
    const codes = new Set(REGIONS.map((r) => r.code));
    for (const p of people) {
      expect(isValidResidentId(p.residentId), p.residentId).toBe(true);
      expect(codes.has(p.residentId.slice(0, 6))).toBe(true);
      expect(p.residentId.slice(6, 14)).toBe(p.birthDate);
      expect(residentIdSex(p.residentId)).toBe(p.sex);
      expect(Number(p.residentId[16]) % 2).toBe(p.sex === 'M' ? 1 : 0);
    }
    expect(new Set(people.map((p) => p.residentId)).size).toBe(people.length);
  });

  it('draws both sexes, X check characters and a spread of ages', () => {
    const men = people.filter((p) => p.sex === 'M').length;
    expect(men / people.length).toBeGreaterThan(0.4);
    expect(men / people.length).toBeLessThan(0.6);
    expect(people.some((p) => p.residentId.endsWith('X'))).toBe(true);
    const years = people.map((p) => Number(p.birthDate.slice(0, 4)));
    expect(Math.min(...years)).toBeLessThan(1940);
    expect(Math.max(...years)).toBeGreaterThan(2019);
  });

  it('makes Chinese names of a 1–2 character surname and a 1–2 character given name', () => {
    for (const p of people) {
      expect(p.name.full).toBe(p.name.family + p.name.given);
      expect(p.name.full).toMatch(/^[\u4e00-\u9fff]{2,4}$/);
      expect([...p.name.given].length).toBeGreaterThanOrEqual(1);
      expect([...p.name.given].length).toBeLessThanOrEqual(2);
    }
    const surnames = new Map<string, number>();
    for (const p of people) surnames.set(p.name.family, (surnames.get(p.name.family) ?? 0) + 1);
    // 王, 李 and 张 are each about 7% of the population.
    expect(surnames.get('王')! / people.length).toBeGreaterThan(0.04);
  });

  it('makes 11-digit mobiles on real prefixes', () => {
    for (const p of people) {
      expect(p.mobile).toMatch(/^1\d{10}$/);
      expect(MOBILE_PREFIXES).toContain(p.mobile.slice(0, 3));
    }
  });

  it('writes addresses as province/city/district/street/number', () => {
    for (const p of people) {
      const r = p.address.region;
      const head = r.city === r.province ? r.province + r.district : r.province + r.city + r.district;
      expect(p.address.full).toBe(head + p.address.street);
      expect(p.address.street).toMatch(/号/);
      expect(r.streets.some((s) => p.address.street.startsWith(s))).toBe(true);
    }
    expect(people.map((p) => p.address.full)).toContainEqual(expect.stringMatching(/^北京市朝阳区/));
  });

  it('issues unique 9-digit medical record numbers', () => {
    for (const p of people) expect(p.mrn).toMatch(/^\d{9}$/);
    expect(new Set(people.map((p) => p.mrn)).size).toBe(people.length);
  });

  it('numbers visits by class and date, without repeats', () => {
    const generator = new ChineseIdentityGenerator(new SeededRandom(1));
    const at = new Date('2024-03-01T02:00:00Z'); // 10:00 in Beijing
    expect(generator.visitNumber('I', at)).toBe('ZY2024000001');
    expect(generator.visitNumber('I', at)).toBe('ZY2024000002');
    expect(generator.visitNumber('O', at)).toBe('MZ2024030100001');
    expect(generator.visitNumber('E', new Date('2024-03-01T17:00:00Z'))).toBe('JZ2024030200001');
  });

  it('is deterministic for a seed', () => {
    expect(identities('same', 50)).toEqual(identities('same', 50));
    expect(identities('same', 50)).not.toEqual(identities('other', 50));
  });
});

describe('SeededRandom', () => {
  it('repeats its sequence for the same seed and keeps int() inside its bounds', () => {
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const n = a.int(1, 6);
      expect(n).toBe(b.int(1, 6));
      seen.add(n);
    }
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('forks independent streams that do not depend on how much the parent drew', () => {
    const a = new SeededRandom('s');
    const b = new SeededRandom('s');
    b.next();
    expect(a.fork('x').next()).toBe(b.fork('x').next());
    expect(a.fork('x').next()).not.toBe(a.fork('y').next());
  });
});
