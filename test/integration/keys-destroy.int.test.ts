// Crypto-shredding: `wardline keys destroy --kind encryption` (the real CLI).
// Without --yes and without a terminal it refuses and destroys nothing; with it,
// every encryption key is overwritten and deleted, keyring.json no longer names
// them, a field encrypted under them can no longer be decrypted with what is
// left, the pseudonym key is untouched, and the egress ledger records it. An
// unknown key id is refused, naming the keys held.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { decryptField, encryptField, loadKeyring, readKeyringManifest, rotateKey } from '../../agent/policy/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlineProcess } from '../support/wardline-process.js';

async function cli(args: string[]): Promise<{ code: number | null; output: string }> {
  const process = new WardlineProcess(args);
  const { code } = await process.exited;
  return { code, output: process.recentOutput };
}

describe('wardline keys destroy (crypto-shredding)', () => {
  const dir = makeTempDir('wardline-keys-destroy-');
  const keysDir = join(dir.path, 'keys');
  const config = join(dir.path, 'agent.yaml');
  afterAll(() => dir.remove());

  it('destroys every encryption key after confirmation, leaving what they encrypted unreadable, and records it', async () => {
    rotateKey({ dir: keysDir, kind: 'pseudonym', retainRetiredMs: 86_400_000 });
    rotateKey({ dir: keysDir, kind: 'encryption', retainRetiredMs: 86_400_000 });
    const old = loadKeyring(keysDir, { retainRetiredMs: 86_400_000 });
    const token = encryptField(old.active.encryption!, 'backup envelope: PID|1||12345');
    rotateKey({ dir: keysDir, kind: 'encryption', retainRetiredMs: 86_400_000 });
    const before = loadKeyring(keysDir, { retainRetiredMs: 86_400_000 });
    expect(decryptField(token, (id) => before.lookup('encryption', id))).toBe('backup envelope: PID|1||12345');
    const encryptionFiles = readKeyringManifest(keysDir).keys.filter((k) => k.kind === 'encryption').map((k) => join(keysDir, k.file));
    expect(encryptionFiles).toHaveLength(2);
    writeFileSync(
      config,
      `hospital: { id: h1 }
dataDir: ./agent-data
keys: { dir: ./keys }
sources: [{ kind: mllp, name: lis, listen: "127.0.0.1:0" }]
relays: [{ name: cloud, address: "127.0.0.1:1", secret: "s3cret-s3cret-s3cret", allowPlaintext: true }]
feeds: [{ name: backup, relay: cloud, streams: [adt] }]
`,
    );

    const unconfirmed = await cli(['keys', 'destroy', '--kind', 'encryption', '-c', config]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.output).toContain('becomes unreadable for good wherever a copy of it lies');
    expect(unconfirmed.output).toContain('not confirmed: nothing was destroyed');
    expect(encryptionFiles.every((f) => existsSync(f))).toBe(true);

    const unknown = await cli(['keys', 'destroy', '--kind', 'encryption', '--key', 'e-nope', '-c', config, '--yes']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.output).toMatch(/no encryption key "e-nope" in .*encryption keys held: e-/);

    const { code, output } = await cli(['keys', 'destroy', '--kind', 'encryption', '-c', config, '--yes']);
    expect(code, output).toBe(0);
    expect(output).toContain('there is no active encryption key now');
    expect(encryptionFiles.some((f) => existsSync(f))).toBe(false);
    const left = readKeyringManifest(keysDir).keys;
    expect(left.map((k) => k.kind)).toEqual(['pseudonym']);
    const keyring = loadKeyring(keysDir, { retainRetiredMs: 86_400_000 });
    expect(() => decryptField(token, (id) => keyring.lookup('encryption', id))).toThrow(/key/);

    const db = new Database(join(dir.path, 'agent-data', 'agent.db'), { readonly: true });
    try {
      const record = db.prepare("SELECT details FROM egress_ledger WHERE type = 'key-destroyed'").get() as { details: string };
      expect(JSON.parse(record.details)).toMatchObject({ kind: 'encryption', activeDestroyed: true, keyIds: expect.arrayContaining([expect.stringMatching(/^e-/)]) });
    } finally {
      db.close();
    }
  }, 60_000);
});
