// The export writer (cloud-relay/exit) on a real relay data dir: the directory
// it writes is checked here with tools nobody here wrote — `sha256sum -c` and
// Debian's `minisign -V` — and line by line against the events stored, and it
// refuses an unknown hospital or feed and an output dir that is not empty.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeExport, type ExportSummary } from '../../cloud-relay/exit/index.js';
import { RelayErrorCode } from '../../cloud-relay/index.js';
import { feedLeafHash, merkleRoot, parseExportEventLine, type ExportManifest } from '../../protocol/index.js';
import { publicKeyText } from '../../runtime/index.js';
import { buildExportFixture, FX_HOSPITAL, FX_OTHER_HOSPITAL, FX_RELAY_ID, type ExportFixture } from '../support/export-fixture.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('wardline-export-');
let fixture: ExportFixture;
let summary: ExportSummary;
const outDir = join(tmp.path, 'export');
const KNOWN = [FX_HOSPITAL, FX_OTHER_HOSPITAL];

beforeAll(async () => {
  fixture = await buildExportFixture(join(tmp.path, 'relay-data'));
  summary = await writeExport({ store: fixture.store, blobs: fixture.blobs, signingKey: fixture.key, relayId: FX_RELAY_ID, hospital: FX_HOSPITAL, knownHospitals: KNOWN, outDir, now: () => Date.parse('2026-12-03T06:00:00Z') });
});

afterAll(async () => {
  await fixture.close();
  tmp.remove();
});

const manifest = (): ExportManifest => JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as ExportManifest;

describe('relay export writer', () => {
  it('writes the spec directory: feeds, blob chunks, SHA256SUMS, the public key, the manifest and its signature, and nothing else', () => {
    const files = readdirSync(outDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(outDir.length + 1)).sort();
    const chunks = fixture.instances.flatMap((i) => i.manifest.chunks.map((c) => `blobs/${c.sha256}`)).sort();
    expect(files).toEqual([...chunks, 'SHA256SUMS', 'feeds/adt.ndjson', 'feeds/imaging.ndjson', 'feeds/rows.ndjson', 'manifest.json', 'manifest.json.minisig', 'relay-signing.pub'].sort());
    expect(summary.files).toBe(files.length);
    expect(summary.events).toBe(fixture.events.adt!.length + fixture.events.rows!.length + fixture.events.imaging!.length);
    // No partial directory is left beside it.
    expect(readdirSync(tmp.path).filter((name) => name.includes('partial'))).toEqual([]);
  });

  it('passes `sha256sum -c SHA256SUMS` and Debian minisign -V against relay-signing.pub', () => {
    const sums = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: outDir, encoding: 'utf8' });
    expect(sums.trim().split('\n')).toHaveLength(manifest().output.length);
    expect(sums).not.toContain('FAILED');
    const verified = spawnSync('minisign', ['-V', '-m', 'manifest.json', '-p', 'relay-signing.pub'], { cwd: outDir, encoding: 'utf8' });
    expect(verified.status, verified.stderr).toBe(0);
    const sha = createHash('sha256').update(readFileSync(join(outDir, 'manifest.json'))).digest('hex');
    expect(verified.stdout).toContain(`Trusted comment: wardline-export-v1 hospital=h1 time=2026-12-03T06:00:00.000Z manifest-sha256=${sha}`);
    expect(readFileSync(join(outDir, 'relay-signing.pub'), 'utf8')).toBe(publicKeyText(fixture.key));
  });

  it('has a FHIR Bulk Data-shaped manifest with per-feed roots, marks and the ledger heads', async () => {
    const m = manifest();
    expect(m).toMatchObject({ transactionTime: '2026-12-03T06:00:00.000Z', request: 'wardline relay export --hospital h1', requiresAccessToken: false, error: [] });
    const w = m.extension.wardline;
    expect(w).toMatchObject({ format: 'wardline-export-v1', hospital: 'h1', relayId: FX_RELAY_ID });
    expect(w.feeds.map((f) => f.feed)).toEqual(['adt', 'imaging', 'rows']);
    for (const feed of w.feeds) {
      const events = fixture.events[feed.feed]!;
      const root = merkleRoot(events.map((e) => feedLeafHash(e.seq, e.body))).toString('hex');
      expect(feed).toEqual({ feed: feed.feed, highWaterSeq: fixture.store.position('h1', feed.feed).highWaterSeq, visibleSeq: feed.highWaterSeq, events: events.length, bodyBytes: events.reduce((n, e) => n + e.body.length, 0), treeSize: events.length, merkleRoot: root });
    }
    expect(w.ledgerHeads).toContainEqual({ feed: 'imaging', ledgerIndex: 7, ledgerHead: 'ab'.repeat(32) });
    for (const entry of m.output) {
      const bytes = readFileSync(join(outDir, entry.url));
      expect(entry.bytes).toBe(bytes.length);
      expect(entry.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('writes each event as its vendor line plus bodySha256, and every body comes back byte for byte', () => {
    for (const feed of ['adt', 'rows', 'imaging']) {
      const lines = readFileSync(join(outDir, `feeds/${feed}.ndjson`), 'utf8').split('\n');
      expect(lines.pop()).toBe('');
      const events = fixture.events[feed]!;
      expect(lines).toHaveLength(events.length);
      lines.forEach((line, i) => {
        const parsed = parseExportEventLine(line);
        expect(parsed.event).toEqual(events[i]);
        expect(parsed.bodySha256).toBe(createHash('sha256').update(events[i]!.body).digest('hex'));
      });
    }
    const rows = readFileSync(join(outDir, 'feeds/rows.ndjson'), 'utf8').split('\n');
    // A json row passes through as its text (the big integer unrounded); the pretty one keeps its CR/LF as base64.
    expect(rows[0]).toContain('"body":{"id":1,"name":"王五","big":12345678901234567890},"bodySha256":"');
    expect(rows[1]).toContain('"bodyBase64":"');
  });

  it('exports an imaging feed\'s chunks as files named by their SHA-256', () => {
    for (const instance of fixture.instances) {
      const bytes = Buffer.concat(instance.manifest.chunks.map((c) => readFileSync(join(outDir, 'blobs', c.sha256))));
      expect(bytes.equals(instance.bytes)).toBe(true);
    }
  });

  it('exports only the feeds asked for', async () => {
    const dir = join(tmp.path, 'only-rows');
    const only = await writeExport({ store: fixture.store, blobs: fixture.blobs, signingKey: fixture.key, relayId: FX_RELAY_ID, hospital: FX_HOSPITAL, knownHospitals: KNOWN, outDir: dir, feeds: ['rows'] });
    expect(only.manifest.output.map((o) => o.url)).toEqual(['feeds/rows.ndjson']);
    expect(only.manifest.request).toBe('wardline relay export --hospital h1 --feed rows');
    expect(readdirSync(dir).sort()).toEqual(['SHA256SUMS', 'feeds', 'manifest.json', 'manifest.json.minisig', 'relay-signing.pub']);
  });

  it('refuses an unknown hospital, a feed the hospital does not have, and an output dir that is not empty, writing nothing', async () => {
    const base = { store: fixture.store, blobs: fixture.blobs, signingKey: fixture.key, relayId: FX_RELAY_ID, knownHospitals: KNOWN };
    const fresh = join(tmp.path, 'refused');
    await expect(writeExport({ ...base, hospital: 'h9', outDir: fresh })).rejects.toMatchObject({ code: RelayErrorCode.EXPORT_UNKNOWN_HOSPITAL, message: expect.stringContaining('"h9"') });
    await expect(writeExport({ ...base, hospital: 'h1', feeds: ['nope'], outDir: fresh })).rejects.toMatchObject({ code: RelayErrorCode.EXPORT_UNKNOWN_FEED, message: expect.stringContaining('adt, imaging, rows') });
    // h2's feed "adt" exists, but h1 asking for h2-only feeds is refused: here h2 has no "rows".
    await expect(writeExport({ ...base, hospital: 'h2', feeds: ['rows'], outDir: fresh })).rejects.toMatchObject({ code: RelayErrorCode.EXPORT_UNKNOWN_FEED });
    expect(existsSync(fresh)).toBe(false);
    mkdirSync(fresh);
    writeFileSync(join(fresh, 'keep.txt'), 'mine');
    await expect(writeExport({ ...base, hospital: 'h1', outDir: fresh })).rejects.toMatchObject({ code: RelayErrorCode.EXPORT_OUT_DIR, message: expect.stringContaining('not empty') });
    expect(readdirSync(fresh)).toEqual(['keep.txt']);
    // An empty directory is taken.
    const empty = join(tmp.path, 'empty');
    mkdirSync(empty);
    await writeExport({ ...base, hospital: 'h2', outDir: empty });
    expect(readdirSync(empty)).toContain('manifest.json');
  });

  it('fails on a damaged blob store without leaving a partial export behind', async () => {
    const damaged = await buildExportFixture(join(tmp.path, 'damaged-relay'));
    try {
      const chunk = damaged.instances[1]!.manifest.chunks[0]!.sha256;
      const dir = join(tmp.path, 'damaged-relay', 'blobs', FX_HOSPITAL, chunk.slice(0, 2));
      const bytes = readFileSync(join(dir, chunk));
      bytes[100] = bytes[100]! ^ 0x01;
      writeFileSync(join(dir, chunk), bytes);
      const out = join(tmp.path, 'damaged-export');
      await expect(writeExport({ store: damaged.store, blobs: damaged.blobs, signingKey: damaged.key, relayId: FX_RELAY_ID, hospital: FX_HOSPITAL, knownHospitals: KNOWN, outDir: out })).rejects.toMatchObject({
        code: RelayErrorCode.EXPORT_BLOB_DAMAGED,
        message: expect.stringContaining(`chunk 0 reads with SHA-256`),
      });
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(tmp.path).filter((name) => name.includes('partial'))).toEqual([]);
    } finally {
      await damaged.close();
    }
  });
});
