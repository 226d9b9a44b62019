// Section 11: the signed export of a feed of 1,000,000 events (cloud-relay/exit)
// against reading the same rows raw from the relay's SQLite in the same run (a
// plain SELECT of the same columns, every value touched), then the checks a
// hospital runs on it: `wardline export verify` (the built CLI), Debian's
// `minisign -V`, `sha256sum -c` and the README's Python script, each timed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { writeExport } from '../../cloud-relay/exit/index.js';
import { relayDatabaseFile, SqliteFeedStore } from '../../cloud-relay/store/index.js';
import type { JournalEvent } from '../../protocol/index.js';
import { generateMinisignKey, publicKeyText } from '../../runtime/index.js';
import { writeFileSync } from 'node:fs';
import { CLI_PATH } from '../support/wardline-process.js';
import { shown, type BenchReport } from './bench-report.js';

const HOSPITAL = 'h1';
const FEED = 'clinical';
const BATCH_EVENTS = 10_000;

/** Event `seq` of the workload: three HL7 messages (about 300 bytes) to one JSON row, as a hospital's mix. */
function benchEvent(seq: number): JournalEvent {
  const tsMs = 1_700_000_000_000 + seq;
  if (seq % 4 === 0) {
    return { seq, stream: 'his.patient', key: `P${seq}`, op: 'upsert', tsMs, source: 'http', contentType: 'json', body: Buffer.from(JSON.stringify({ id: seq, ward: '3B', bed: seq % 40, admitted: '2024-01-01T08:00:00Z', name: '张三' })), headers: {} };
  }
  const body = `MSH|^~\\&|HIS|H1|LIS|H1|20240101080000||ADT^A01|MSG${seq}|P|2.5\rEVN|A01|20240101080000\rPID|1||${100000 + seq}^^^H1^MR||张^三||19800101|M|||北京市海淀区^^^^100000\rPV1|1|I|3B^12^1\r`;
  return { seq, stream: 'adt', key: `P${seq}`, op: 'upsert', tsMs, source: 'lis', contentType: 'hl7v2', body: Buffer.from(body), headers: { controlId: `MSG${seq}` } };
}

function timed(run: () => { status: number | null; stderr?: string | Buffer }): { seconds: number; ok: boolean } {
  const started = performance.now();
  const result = run();
  return { seconds: (performance.now() - started) / 1000, ok: result.status === 0 };
}

export async function measureExport(report: BenchReport, options: { dir: string; events: number }): Promise<void> {
  const { dir, events } = options;
  report.begin(`11. Export: ${events.toLocaleString('en')} events, signed, against a raw read of the same rows`);
  const dataDir = join(dir, 'export-relay');
  const store = SqliteFeedStore.open({ file: relayDatabaseFile(dataDir) });
  const fillStarted = performance.now();
  for (let first = 1; first <= events; first += BATCH_EVENTS) {
    const last = Math.min(events, first + BATCH_EVENTS - 1);
    const batch: JournalEvent[] = [];
    for (let seq = first; seq <= last; seq++) batch.push(benchEvent(seq));
    await store.storeBatch({ hospital: HOSPITAL, feed: FEED, firstSeq: first, lastSeq: last, events: batch });
  }
  process.stderr.write(`  (relay feed filled in ${shown((performance.now() - fillStarted) / 1000)} s)\n`);

  // The baseline: the same rows, the same columns, read raw in seq order by a second connection.
  const raw = new Database(relayDatabaseFile(dataDir), { readonly: true });
  const rawStarted = performance.now();
  let rawRows = 0;
  let rawBytes = 0;
  let bodyBytes = 0;
  for (const row of raw
    .prepare<[string, string], { seq: number; stream: string; key: string; op: string; ts_ms: number; source: string; content_type: string; body: Buffer; headers: string }>(
      'SELECT seq, stream, key, op, ts_ms, source, content_type, body, headers FROM feed_events WHERE hospital = ? AND feed = ? ORDER BY seq',
    )
    .iterate(HOSPITAL, FEED)) {
    rawRows += 1;
    bodyBytes += row.body.length;
    rawBytes += row.body.length + row.stream.length + row.key.length + row.op.length + row.source.length + row.content_type.length + row.headers.length + 16;
  }
  const rawSeconds = (performance.now() - rawStarted) / 1000;
  raw.close();

  const key = generateMinisignKey();
  const outDir = join(dir, 'export-out');
  const exported = await writeExport({ store, signingKey: key, relayId: 'bench', hospital: HOSPITAL, knownHospitals: [HOSPITAL], outDir });
  await store.close();
  const exportSeconds = exported.elapsedMs / 1000;
  const pubkey = join(dir, 'relay-bench.pub');
  writeFileSync(pubkey, publicKeyText(key));

  const bodyMBps = (seconds: number) => bodyBytes / 1e6 / seconds;
  report.record('raw SELECT of the same rows (baseline)', bodyMBps(rawSeconds), 'MB/s of bodies', `${rawRows} rows, ${shown(bodyBytes / 1e6)} MB of bodies (${shown(rawBytes / 1e6)} MB all columns) in ${shown(rawSeconds)} s, better-sqlite3 iterate, every column read`);
  report.record('export (NDJSON + Merkle root + fsync + signature)', bodyMBps(exportSeconds), 'MB/s of bodies', `${exported.events} events, ${shown(exported.bytes / 1e6)} MB written (${shown(exported.bytes / 1e6 / exportSeconds)} MB/s of files) in ${shown(exportSeconds)} s`);
  report.record('export / raw read', (rawSeconds / exportSeconds) * 100, '%', 'same rows, same run; below 100% = the export is slower than the bare read');

  const verify = timed(() => spawnSync(process.execPath, [CLI_PATH, 'export', 'verify', outDir, '--pubkey', pubkey], { encoding: 'utf8' }));
  report.record('wardline export verify (CLI)', verify.seconds, 's', `${verify.ok ? 'passed' : 'FAILED'}: signature, listing, every SHA-256, every line re-serialised and its body hashed, the RFC 9162 root`);
  const minisign = timed(() => spawnSync('minisign', ['-V', '-m', 'manifest.json', '-p', pubkey], { cwd: outDir }));
  report.record('minisign -V -m manifest.json', minisign.seconds, 's', minisign.ok ? 'passed' : 'FAILED');
  const sums = timed(() => spawnSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: outDir }));
  report.record('sha256sum -c SHA256SUMS', sums.seconds, 's', sums.ok ? 'passed' : 'FAILED');
  const python = timed(() => spawnSync('python3', [join(CLI_PATH, '../../../scripts/verify-export.py'), outDir]));
  report.record('python3 scripts/verify-export.py', python.seconds, 's', python.ok ? 'passed' : 'FAILED');
  report.check('export of 1M events verifies with wardline, minisign, sha256sum and the Python script', 'all pass', [verify, minisign, sums, python].every((r) => r.ok) ? 'all pass' : 'a check FAILED', [verify, minisign, sums, python].every((r) => r.ok));
}
