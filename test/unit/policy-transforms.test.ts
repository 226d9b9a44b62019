// Property-based tests of each transform a policy can apply (hundreds of seeded
// cases per property; a failure names the seed and case to replay).
import { describe, expect, it } from 'vitest';
import { decryptField, encryptField, FieldDecryptError, isEncryptedToken, isPseudonym, PolicyErrorCode, pseudonym, type HospitalKey } from '../../agent/policy/index.js';
import { generalizeAddress, generalizeDate } from '../../agent/policy/generalize.js';
import { maskAuto, maskGeneric, maskMobile, maskName, maskResidentId } from '../../agent/policy/masks.js';
import { transformValue } from '../../agent/policy/policy-action.js';
import { ChineseIdentityGenerator, REGIONS, type SeededRandom } from '../../simulator/index.js';
import { forAll, stringOf, TRICKY_ALPHABET } from '../support/property.js';

const randomKey = (rng: SeededRandom, id?: string): HospitalKey => {
  const secret = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) secret[i] = rng.int(0, 255);
  return { id: id ?? `k-${rng.int(1, 9999)}`, secret };
};
const anyText = (rng: SeededRandom) => stringOf(rng, TRICKY_ALPHABET, 0, 40);

describe('hash (HMAC-SHA256 pseudonyms)', () => {
  it('is stable under one key: the same value always gives the same pseudonym, prefixed with the key id', () => {
    forAll('pseudonym-stable', (rng) => ({ key: randomKey(rng), value: anyText(rng) }), ({ key, value }) => {
      const first = pseudonym(key, value);
      expect(pseudonym({ id: key.id, secret: Buffer.from(key.secret) }, value)).toBe(first);
      expect(first.startsWith(`ps:${key.id}:`)).toBe(true);
      expect(isPseudonym(first)).toBe(true);
      if (value.length >= 6) expect(first).not.toContain(value);
    });
  });

  it('differs under another key, and for another value', () => {
    forAll('pseudonym-differs', (rng) => ({ a: randomKey(rng, 'k1'), b: randomKey(rng, 'k1'), value: anyText(rng), other: anyText(rng) }), ({ a, b, value, other }) => {
      // Same key id on purpose: the difference comes from the secret, not the prefix.
      expect(pseudonym(a, value)).not.toBe(pseudonym(b, value));
      if (other !== value) expect(pseudonym(a, other)).not.toBe(pseudonym(a, value));
    });
  });

  it('never looks like a resident ID or a mobile number', () => {
    forAll('pseudonym-no-digits', (rng) => ({ key: randomKey(rng), value: rng.digits(11) }), ({ key, value }) => {
      expect(pseudonym(key, value).split(':')[2]).toMatch(/^[a-z2-7]{26}$/);
    });
  });
});

describe('mask', () => {
  it('keeps the documented shape of a resident ID: length 18, first 6 and last 4 kept', () => {
    forAll('mask-resident-id', (rng) => new ChineseIdentityGenerator(rng).next().residentId, (id) => {
      for (const masked of [maskResidentId(id), maskAuto(id)]) {
        expect(masked).toHaveLength(18);
        expect(masked).toBe(`${id.slice(0, 6)}********${id.slice(14)}`);
      }
    });
    expect(maskAuto('11010519491231002X')).toBe('110105********002X');
  });

  it('keeps the documented shape of a mobile: first 3 and last 4', () => {
    forAll('mask-mobile', (rng) => new ChineseIdentityGenerator(rng).mobile(), (mobile) => {
      expect(maskMobile(mobile)).toBe(`${mobile.slice(0, 3)}****${mobile.slice(7)}`);
      expect(maskAuto(mobile)).toBe(maskMobile(mobile));
    });
    expect(maskAuto('13812341234')).toBe('138****1234');
  });

  it('keeps the family name and stars every given-name character', () => {
    expect(maskName('张伟')).toBe('张*');
    expect(maskName('张伟明')).toBe('张**');
    expect(maskName('欧阳娜娜')).toBe('欧阳**');
    expect(maskName('欧阳')).toBe('欧*');
    expect(maskName('阿依古丽·买买提')).toBe('阿***·***');
    forAll('mask-name', (rng) => new ChineseIdentityGenerator(rng).name(), (name) => {
      const masked = maskAuto(name.full);
      expect(Array.from(masked)).toHaveLength(Array.from(name.full).length);
      expect(masked.startsWith(name.family)).toBe(true);
      expect(masked.slice(name.family.length)).toMatch(/^\*+$/);
    });
  });

  it('generic: same length, at most a quarter kept at each end, nothing kept under 4 characters', () => {
    forAll('mask-generic', (rng) => stringOf(rng, 'ABCDEFGH0123456789张王', 0, 30), (value) => {
      const masked = maskGeneric(value);
      const chars = Array.from(value);
      const keep = Math.min(4, Math.floor(chars.length / 4));
      expect(Array.from(masked)).toHaveLength(chars.length);
      expect(masked).toBe(chars.map((c, i) => (i < keep || i >= chars.length - keep ? c : '*')).join(''));
    });
  });

  it('masks a name sent as FAMILY^GIVEN as one name', () => {
    expect(transformValue('mask', [['张'], ['伟明'], [''], [''], [''], [''], ['L']], {})).toEqual([['张'], ['**'], [''], [''], [''], [''], ['*']]);
    expect(transformValue('mask', [['张伟']], {})).toEqual([['张*']]);
  });
});

describe('generalize', () => {
  it('turns any date into its year or month, in the value\'s own style', () => {
    forAll('generalize-date', (rng) => {
      const y = rng.int(1900, 2099);
      const m = String(rng.int(1, 12)).padStart(2, '0');
      const d = String(rng.int(1, 28)).padStart(2, '0');
      return { y: String(y), m, text: rng.pick([`${y}${m}${d}`, `${y}${m}${d}${rng.digits(6)}+0800`, `${y}-${m}-${d}`, `${y}-${m}-${d}T08:30:00+08:00`, `${y}/${m}/${d}`]) };
    }, ({ y, m, text }) => {
      expect(generalizeDate(text, 'year')).toBe(y);
      const month = generalizeDate(text, 'month');
      expect(month.replace(/[-/]/, '')).toBe(`${y}${m}`);
    });
    expect(generalizeDate('not a date', 'year')).toBe('');
  });

  it('turns any generated address into its province and city, and nothing of the street', () => {
    forAll('generalize-address', (rng) => new ChineseIdentityGenerator(rng).address(), (address) => {
      const region = address.region;
      const expected = region.city === region.province ? region.city : region.province + region.city;
      expect(generalizeAddress(address.full)).toBe(expected);
    });
    for (const region of REGIONS) expect(generalizeAddress(`${region.district}某路1号`)).toBe('');
  });

  it('keeps city, province, country and type of an HL7 address, nothing else', () => {
    const xad = [['建国路88号'], ['朝阳区'], ['北京市'], ['北京市'], ['100020'], ['CHN'], ['H']];
    expect(transformValue('generalize', xad, {})).toEqual([[''], [''], ['北京市'], ['北京市'], [''], ['CHN'], ['H']]);
    expect(transformValue('generalize', [['19850317'], ['D']], {})).toEqual([['1985'], ['']]);
  });
});

describe('encrypt (AES-256-GCM)', () => {
  it('round-trips any text, and never repeats a token for the same text', () => {
    forAll('encrypt-roundtrip', (rng) => ({ key: randomKey(rng), value: anyText(rng) }), ({ key, value }) => {
      const token = encryptField(key, value);
      expect(isEncryptedToken(token)).toBe(true);
      expect(token.startsWith(`enc:v1:${key.id}:`)).toBe(true);
      expect(token).not.toMatch(/[|^~&\\]/);
      expect(decryptField(token, (id) => (id === key.id ? key : undefined))).toBe(value);
      expect(encryptField(key, value)).not.toBe(token);
    });
  });

  it('fails when any character of the token is changed', () => {
    forAll('encrypt-tamper-text', (rng) => ({ key: randomKey(rng), value: anyText(rng) }), ({ key, value }, rng) => {
      const token = encryptField(key, value);
      const position = rng.int(0, token.length - 1);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:.';
      let replacement = rng.pick(Array.from(alphabet));
      while (replacement === token[position]) replacement = rng.pick(Array.from(alphabet));
      const altered = token.slice(0, position) + replacement + token.slice(position + 1);
      expect(() => decryptField(altered, (id) => (id === key.id ? key : undefined))).toThrow(FieldDecryptError);
    });
  });

  it('fails when any bit of iv, ciphertext or tag is flipped', () => {
    forAll('encrypt-tamper-bits', (rng) => ({ key: randomKey(rng), value: anyText(rng) }), ({ key, value }, rng) => {
      const token = encryptField(key, value);
      const prefix = token.slice(0, token.lastIndexOf(':') + 1);
      const sealed = Buffer.from(token.slice(prefix.length), 'base64url');
      sealed[rng.int(0, sealed.length - 1)]! ^= 1 << rng.int(0, 7);
      try {
        decryptField(prefix + sealed.toString('base64url'), () => key);
        expect.unreachable('an altered token decrypted');
      } catch (error) {
        expect((error as FieldDecryptError).code).toBe(PolicyErrorCode.DECRYPT_FAILED);
      }
    });
  });

  it('fails under the wrong key, and says so when the key is not in the keyring', () => {
    forAll('encrypt-wrong-key', (rng) => ({ key: randomKey(rng, 'e-1'), other: randomKey(rng, 'e-1'), value: anyText(rng) }), ({ key, other, value }) => {
      const token = encryptField(key, value);
      expect(() => decryptField(token, () => other)).toThrow(/does not authenticate/);
      try {
        decryptField(token, () => undefined);
        expect.unreachable('decrypted without a key');
      } catch (error) {
        expect((error as FieldDecryptError).code).toBe(PolicyErrorCode.KEY_UNKNOWN);
      }
    });
  });
});
