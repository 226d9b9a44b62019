// Our minisign signatures against Debian's minisign: what we sign, `minisign -V`
// accepts; what it signs, we accept; an altered byte, comment or key fails both.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  generateMinisignKey,
  loadOrCreateSigningKey,
  MinisignError,
  parsePublicKey,
  publicKeyText,
  signMinisign,
  verifyMinisign,
} from '../../runtime/index.js';

const minisignVerify = (dir: string, file: string, pub: string): { status: number | null; out: string } => {
  const run = spawnSync('minisign', ['-V', '-m', file, '-p', pub], { cwd: dir, encoding: 'utf8' });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
};

describe('minisign signatures', () => {
  it('are accepted by the stock minisign, and refused by it once one byte of the file or the trusted comment changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wl-minisign-'));
    const key = generateMinisignKey();
    writeFileSync(join(dir, 'key.pub'), publicKeyText(key));
    const data = Buffer.from('{"transactionTime":"2026-12-03T06:00:00Z","output":[]}\n');
    writeFileSync(join(dir, 'manifest.json'), data);
    writeFileSync(join(dir, 'manifest.json.minisig'), signMinisign(key, data, 'wardline export of h1'));
    const good = minisignVerify(dir, 'manifest.json', 'key.pub');
    expect(good.out).toContain('Signature and comment signature verified');
    expect(good.out).toContain('Trusted comment: wardline export of h1');
    expect(good.status).toBe(0);

    const flipped = Buffer.from(data);
    flipped[5]! ^= 1;
    writeFileSync(join(dir, 'manifest.json'), flipped);
    expect(minisignVerify(dir, 'manifest.json', 'key.pub').status).not.toBe(0);
    expect(() => verifyMinisign(flipped, readFileSync(join(dir, 'manifest.json.minisig'), 'utf8'), parsePublicKey(publicKeyText(key)))).toThrow(MinisignError);

    writeFileSync(join(dir, 'manifest.json'), data);
    const signature = readFileSync(join(dir, 'manifest.json.minisig'), 'utf8');
    writeFileSync(join(dir, 'manifest.json.minisig'), signature.replace('export of h1', 'export of h2'));
    expect(minisignVerify(dir, 'manifest.json', 'key.pub').status).not.toBe(0);
    expect(() => verifyMinisign(data, signature.replace('export of h1', 'export of h2'), parsePublicKey(publicKeyText(key)))).toThrow(/trusted comment was altered/);
  });

  it('verify what the stock minisign signed, and refuse another key by its id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wl-minisign-'));
    execFileSync('minisign', ['-G', '-W', '-p', join(dir, 'stock.pub'), '-s', join(dir, 'stock.key')], { stdio: 'ignore' });
    writeFileSync(join(dir, 'file.bin'), Buffer.from([0, 1, 2, 3, 255]));
    execFileSync('minisign', ['-S', '-s', join(dir, 'stock.key'), '-m', join(dir, 'file.bin'), '-t', 'signed by the stock tool'], { stdio: 'ignore' });
    const stockKey = parsePublicKey(readFileSync(join(dir, 'stock.pub'), 'utf8'));
    const verified = verifyMinisign(readFileSync(join(dir, 'file.bin')), readFileSync(join(dir, 'file.bin.minisig'), 'utf8'), stockKey);
    expect(verified.trustedComment).toBe('signed by the stock tool');
    const other = generateMinisignKey();
    expect(() => verifyMinisign(readFileSync(join(dir, 'file.bin')), readFileSync(join(dir, 'file.bin.minisig'), 'utf8'), other)).toThrow(/signed by key/);
  });

  it('keep one key per directory across loads, its private file readable by the owner only', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'wl-signing-')), 'data');
    const first = loadOrCreateSigningKey(dir, 'relay-signing');
    const second = loadOrCreateSigningKey(dir, 'relay-signing');
    expect(second.key.publicKey.equals(first.key.publicKey)).toBe(true);
    expect(parsePublicKey(readFileSync(first.publicKeyFile, 'utf8')).keyId.equals(first.key.keyId)).toBe(true);
    expect((execFileSync('stat', ['-c', '%a', first.privateKeyFile], { encoding: 'utf8' })).trim()).toBe('600');
  });
});
