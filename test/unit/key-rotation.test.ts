// The hospital-held keys: rotation makes a new active key and retires the old one,
// retired keys decrypt until their retention runs out and are then purged, and a
// policy compiled after a rotation carries a new version and new pseudonyms.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  compileFeedPolicy,
  decryptField,
  encryptField,
  KEYRING_FILE,
  loadKeyring,
  PolicyErrorCode,
  PolicyKeyError,
  pseudonym,
  readKeyringManifest,
  rotateKey,
} from '../../agent/policy/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('key rotation', () => {
  const dirs: ReturnType<typeof makeTempDir>[] = [];
  const keysDir = () => {
    const dir = makeTempDir('wardline-keys-');
    dirs.push(dir);
    return join(dir.path, 'keys');
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  it('creates the first key, then retires it for a new one, and says what it did', () => {
    const dir = keysDir();
    const first = rotateKey({ dir, kind: 'pseudonym', retainRetiredMs: 30 * DAY, nowMs: T0 });
    expect(first).toMatchObject({ kind: 'pseudonym', retiredKeyId: null, purgedKeyIds: [], at: '2026-01-01T00:00:00.000Z' });
    expect(first.keyId).toMatch(/^p-20260101-[0-9a-f]{6}$/);
    const second = rotateKey({ dir, kind: 'pseudonym', retainRetiredMs: 30 * DAY, nowMs: T0 + DAY });
    expect(second.retiredKeyId).toBe(first.keyId);
    const keyring = loadKeyring(dir, { retainRetiredMs: 30 * DAY, nowMs: T0 + DAY });
    expect(keyring.active.pseudonym?.id).toBe(second.keyId);
    expect(keyring.lookup('pseudonym', first.keyId)).toBeDefined();
    expect(readKeyringManifest(dir).rotations.map((r) => r.keyId)).toEqual([first.keyId, second.keyId]);
    expect(keyring.warnings).toEqual([]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const entry = readKeyringManifest(dir).keys.find((k) => k.id === second.keyId)!;
    expect(statSync(join(dir, entry.file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(join(dir, entry.file), 'utf8').trim(), 'base64')).toHaveLength(32);
  });

  it('keeps a retired encryption key for decrypting until its retention runs out, then purges it', () => {
    const dir = keysDir();
    const retain = 30 * DAY;
    const old = rotateKey({ dir, kind: 'encryption', retainRetiredMs: retain, nowMs: T0 });
    const token = encryptField(loadKeyring(dir, { retainRetiredMs: retain, nowMs: T0 }).active.encryption!, '11010519491231002X');
    rotateKey({ dir, kind: 'encryption', retainRetiredMs: retain, nowMs: T0 + DAY });

    const within = loadKeyring(dir, { retainRetiredMs: retain, nowMs: T0 + 10 * DAY });
    expect(decryptField(token, (id) => within.lookup('encryption', id))).toBe('11010519491231002X');

    const after = loadKeyring(dir, { retainRetiredMs: retain, nowMs: T0 + 40 * DAY });
    expect(() => decryptField(token, (id) => after.lookup('encryption', id))).toThrow(expect.objectContaining({ code: PolicyErrorCode.KEY_UNKNOWN }));

    const third = rotateKey({ dir, kind: 'encryption', retainRetiredMs: retain, nowMs: T0 + 40 * DAY });
    expect(third.purgedKeyIds).toEqual([old.keyId]);
    expect(readKeyringManifest(dir).keys.map((k) => k.id)).not.toContain(old.keyId);
  });

  it('changes every pseudonym and the policy version of a feed that hashes', () => {
    const dir = keysDir();
    const compile = (nowMs: number) =>
      compileFeedPolicy(
        { name: 'f', streams: ['adt'], policy: { default: 'drop', key: 'hash', scan: false, streams: { adt: { fields: { 'PID-3.1': 'hash' } } } } },
        loadKeyring(dir, { retainRetiredMs: DAY, nowMs }).active,
      )!;
    rotateKey({ dir, kind: 'pseudonym', retainRetiredMs: DAY, nowMs: T0 });
    const before = compile(T0);
    rotateKey({ dir, kind: 'pseudonym', retainRetiredMs: DAY, nowMs: T0 + 1 });
    const after = compile(T0 + 1);
    expect(after.version).not.toBe(before.version);
    expect(pseudonym(after.keys.pseudonym!, '139030471')).not.toBe(pseudonym(before.keys.pseudonym!, '139030471'));
  });

  it('refuses a key file that does not hold 32 bytes, naming it, and warns about one others can read', () => {
    const dir = keysDir();
    rotateKey({ dir, kind: 'pseudonym', retainRetiredMs: DAY, nowMs: T0 });
    const file = join(dir, readKeyringManifest(dir).keys[0]!.file);
    writeFileSync(file, Buffer.alloc(32, 1).toString('hex'));
    chmodSync(file, 0o644);
    // Refused by default, as ssh refuses such a key; with secretFilePermissions: warn, used with a warning.
    expect(() => loadKeyring(dir, { retainRetiredMs: DAY })).toThrow(new RegExp(`key file "${file}" can be read by other users \\(mode 0644\\); run chmod 600 ${file}, or set secretFilePermissions: warn`));
    expect(loadKeyring(dir, { retainRetiredMs: DAY, secretFilePermissions: 'warn' }).warnings[0]).toMatch(/can be read by other users/);
    chmodSync(file, 0o600);
    writeFileSync(file, 'c2hvcnQ=');
    expect(() => loadKeyring(dir, { retainRetiredMs: DAY })).toThrow(PolicyKeyError);
    expect(() => loadKeyring(dir, { retainRetiredMs: DAY })).toThrow(new RegExp(`key file ${file} does not hold 32 bytes`));
    writeFileSync(join(dir, KEYRING_FILE), '{"format":"other"}');
    expect(() => loadKeyring(dir, { retainRetiredMs: DAY })).toThrow(/is not a Wardline keyring/);
  });

  it('is an empty keyring where there is no directory yet', () => {
    expect(loadKeyring(keysDir(), { retainRetiredMs: DAY }).active).toEqual({});
  });
});
