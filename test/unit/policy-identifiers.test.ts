// Identifier validators and the free-text finder: the agent's own copy of the
// check-character rule agrees with the simulator's, catches every single-character
// substitution, and the finder neither misses an identifier nor sees one inside a
// longer number.
import { describe, expect, it } from 'vitest';
import { findIdentifiers, isMainlandMobile, isValidResidentId, residentIdCheckCharacter } from '../../agent/policy/index.js';
import { ChineseIdentityGenerator, residentIdCheckCharacter as simulatorCheckCharacter } from '../../simulator/index.js';
import { forAll } from '../support/property.js';

describe('resident ID', () => {
  it('agrees with the simulator and GB 11643 examples', () => {
    expect(isValidResidentId('11010519491231002X')).toBe(true);
    expect(isValidResidentId('11010519491231002x')).toBe(true);
    expect(isValidResidentId('110105194912310021')).toBe(false);
    expect(isValidResidentId('11010519491331002X')).toBe(false); // month 13
    expect(isValidResidentId('01010519491231002X')).toBe(false); // region code 0…
    forAll('check-character-agrees', (rng) => rng.digits(17), (first17) => {
      expect(residentIdCheckCharacter(first17)).toBe(simulatorCheckCharacter(first17));
    }, 1000);
  });

  it('accepts every generated ID and rejects every single-character substitution of one', () => {
    forAll(
      'resident-id-substitution',
      (rng) => ({ id: new ChineseIdentityGenerator(rng).next().residentId, position: rng.int(0, 17), offset: rng.int(1, 10) }),
      ({ id, position, offset }) => {
        expect(isValidResidentId(id)).toBe(true);
        const alphabet = '0123456789X';
        const replaced = alphabet[(alphabet.indexOf(id[position]!) + offset) % 11]!;
        const altered = id.slice(0, position) + replaced + id.slice(position + 1);
        // MOD 11-2 detects every single substitution (11 is prime and every weight is non-zero mod 11).
        expect(isValidResidentId(altered)).toBe(false);
      },
      1000,
    );
  });
});

describe('mobile number', () => {
  it('is 1, then 3–9, then 9 digits', () => {
    expect(isMainlandMobile('13812345678')).toBe(true);
    expect(isMainlandMobile('19912345678')).toBe(true);
    expect(isMainlandMobile('12812345678')).toBe(false);
    expect(isMainlandMobile('1381234567')).toBe(false);
    expect(isMainlandMobile('138123456789')).toBe(false);
  });
});

describe('findIdentifiers', () => {
  it('finds IDs and mobiles in free text as people write them, and says where', () => {
    const text = '患者身份证110105194912310021X? 不是; 身份证11010519491231002X，电话138-1234-5678，备用+86 13912345678，座机0755-86000301';
    const found = findIdentifiers(text).map((m) => ({ kind: m.kind, text: text.slice(m.index, m.index + m.length) }));
    expect(found).toEqual([
      { kind: 'residentId', text: '11010519491231002X' },
      { kind: 'mobile', text: '138-1234-5678' },
      { kind: 'mobile', text: '+86 13912345678' },
    ]);
  });

  it('does not see an identifier inside a longer digit run, a date or an order number', () => {
    expect(findIdentifiers('条码 2403010000011381234567890 时间 20240301083001 医嘱 20240301000002')).toEqual([]);
    expect(findIdentifiers('ps:p-20261121-a3f2:abcdefghijklmnopqrstuvwxyz')).toEqual([]);
  });

  it('finds every identifier planted in random text', () => {
    forAll(
      'find-planted',
      (rng) => {
        const person = new ChineseIdentityGenerator(rng).next();
        const filler = () => rng.pick(['', ' ', '，', '患者', '电话：', 'ID:', '\\.br\\', '复查结果与前次一致 | 已电话告知']);
        return { text: `${filler()}${person.residentId}${filler()}${rng.pick([' ', '，'])}${person.mobile}${filler()}`, id: person.residentId, mobile: person.mobile };
      },
      ({ text, id, mobile }) => {
        const found = findIdentifiers(text).map((m) => [m.kind, text.slice(m.index, m.index + m.length)]);
        expect(found).toEqual([
          ['residentId', id],
          ['mobile', mobile],
        ]);
      },
    );
  });
});
