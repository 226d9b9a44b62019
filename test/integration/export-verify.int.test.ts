// `wardline export verify` (agent/exit/export-verifier.ts) on a real export of a
// real relay data dir: it passes as written; flipping one byte anywhere in any
// file (first, middle, last) fails it naming that file — and the stock tools
// agree (`minisign -V` for the manifest, `sha256sum -c` for the listed files);
// a file added or removed, or another relay's key, fails too. The built CLI
// exits 0 and 1 accordingly, and the Python verifier of the README
// (scripts/verify-export.py, stdlib only) passes and fails alike.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyExport } from '../../agent/index.js';
import { AgentErrorCode } from '../../agent/errors.js';
import { writeExport } from '../../cloud-relay/exit/index.js';
import { generateMinisignKey, publicKeyText } from '../../runtime/index.js';
import { buildExportFixture, FX_HOSPITAL, FX_RELAY_ID, type ExportFixture } from '../support/export-fixture.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH } from '../support/wardline-process.js';

const tmp = makeTempDir('wardline-export-verify-');
const dir = join(tmp.path, 'export');
const pubkey = join(tmp.path, 'trusted.pub');
let fixture: ExportFixture;

beforeAll(async () => {
  fixture = await buildExportFixture(join(tmp.path, 'relay-data'));
  await writeExport({ store: fixture.store, blobs: fixture.blobs, signingKey: fixture.key, relayId: FX_RELAY_ID, hospital: FX_HOSPITAL, knownHospitals: [FX_HOSPITAL], outDir: dir });
  writeFileSync(pubkey, publicKeyText(fixture.key));
});

afterAll(async () => {
  await fixture.close();
  tmp.remove();
});

function exportFiles(): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Flips the low bit of byte `at` of `file`, runs `check`, and flips it back. */
async function withFlippedByte<T>(file: string, at: number, check: () => Promise<T> | T): Promise<T> {
  const path = join(dir, file);
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(path, bytes);
  try {
    return await check();
  } finally {
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(path, bytes);
  }
}

const wardline = (...args: string[]) => spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8' });
const minisignVerify = () => spawnSync('minisign', ['-V', '-m', 'manifest.json', '-p', 'relay-signing.pub'], { cwd: dir, encoding: 'utf8' });
const sha256sumCheck = () => spawnSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
const pythonVerify = () => spawnSync('python3', [join(process.cwd(), 'scripts/verify-export.py'), dir], { encoding: 'utf8' });

describe('export verify', () => {
  it('passes an export as the relay wrote it, against its bundled key (with a warning) and against a trusted copy', async () => {
    const bundled = await verifyExport(dir);
    expect(bundled.keySource).toBe('bundled');
    expect(bundled.warnings.join()).toContain('proves the files are intact, not that the relay made them');
    expect(bundled.events).toBe(fixture.events.adt!.length + fixture.events.rows!.length + fixture.events.imaging!.length);
    expect(bundled.files).toBe(exportFiles().length);
    const trusted = await verifyExport(dir, { trustedPublicKey: readFileSync(pubkey, 'utf8') });
    expect(trusted.keySource).toBe('trusted');
    expect(trusted.warnings).toEqual([]);
  });

  it('fails naming the file when any one byte of any file is flipped (first, middle or last byte), and minisign and sha256sum fail too', async () => {
    const files = exportFiles();
    expect(files).toHaveLength(10);
    for (const file of files) {
      const size = readFileSync(join(dir, file)).length;
      for (const at of [0, Math.floor(size / 2), size - 1]) {
        await withFlippedByte(file, at, async () => {
          const failure = await verifyExport(dir).then(
            () => undefined,
            (error: Error & { code?: string; file?: string }) => error,
          );
          expect(failure, `${file} byte ${at}`).toBeDefined();
          expect([AgentErrorCode.EXPORT_TAMPERED, AgentErrorCode.EXPORT_SIGNATURE]).toContain(failure!.code);
          expect(failure!.message, `${file} byte ${at}`).toContain(file);
          if (file === 'manifest.json') expect(minisignVerify().status, `minisign on manifest byte ${at}`).not.toBe(0);
          if (file.startsWith('feeds/') || file.startsWith('blobs/')) {
            const sums = sha256sumCheck();
            expect(sums.status).not.toBe(0);
            expect(sums.stdout).toContain(`${file}: FAILED`);
          }
        });
      }
    }
    // Back as written: everything passes again.
    await verifyExport(dir);
    expect(minisignVerify().status).toBe(0);
    expect(sha256sumCheck().status).toBe(0);
  });

  it('fails on a file added or removed, and on an export checked against another relay key', async () => {
    writeFileSync(join(dir, 'feeds', 'extra.ndjson'), '');
    await expect(verifyExport(dir)).rejects.toMatchObject({ code: AgentErrorCode.EXPORT_TAMPERED, message: expect.stringContaining('feeds/extra.ndjson: is not listed') });
    rmSync(join(dir, 'feeds', 'extra.ndjson'));
    const chunk = exportFiles().find((f) => f.startsWith('blobs/'))!;
    const saved = readFileSync(join(dir, chunk));
    rmSync(join(dir, chunk));
    await expect(verifyExport(dir)).rejects.toMatchObject({ code: AgentErrorCode.EXPORT_TAMPERED, message: expect.stringContaining(`${chunk}: is listed in the signed manifest but missing`) });
    writeFileSync(join(dir, chunk), saved);
    await expect(verifyExport(dir, { trustedPublicKey: publicKeyText(generateMinisignKey()) })).rejects.toMatchObject({ code: AgentErrorCode.EXPORT_SIGNATURE, message: expect.stringContaining('relay-signing.pub') });
  });

  it('the built CLI exits 0 on the export and 1 naming the file after a flipped byte', async () => {
    const ok = wardline('export', 'verify', dir, '--pubkey', pubkey);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('export of hospital h1 from relay relay-test');
    expect(ok.stdout).toContain('feed adt: 51 events');
    const bundled = wardline('export', 'verify', dir);
    expect(bundled.status).toBe(0);
    expect(bundled.stderr).toContain('warning: checked against the export\'s own relay-signing.pub');
    await withFlippedByte('feeds/rows.ndjson', 40, () => {
      const failed = wardline('export', 'verify', dir, '--pubkey', pubkey);
      expect(failed.status).toBe(1);
      expect(failed.stderr).toMatch(/^wardline: \[WL_A032\] feeds\/rows\.ndjson: /);
    });
  });

  it('the README\'s Python verifier passes the export and fails after a flipped byte', async () => {
    const ok = pythonVerify();
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('OK');
    for (const file of ['feeds/adt.ndjson', exportFiles().find((f) => f.startsWith('blobs/'))!]) {
      await withFlippedByte(file, 10, () => {
        const failed = pythonVerify();
        expect(failed.status, file).not.toBe(0);
        expect(failed.stdout + failed.stderr).toContain(file);
      });
    }
  });
});
