// The bench's PostgreSQL capture section: a steady stream of single-row transactions
// from a ThrowawayPostgres into the agent process (with a relay and a vendor feed of
// the captured table), and a snapshot of N rows against the server's own COPY of the
// same rows. Printed: commit-to-journal lag p50/p99 (pg's commit time, from the
// event's commitTime header, to the journal row's ts_ms, which the journal takes as
// its group commit begins), the rate the writer and the agent reached, the digests
// of the table, the local copy and the vendor feed (missing, duplicated), and
// the snapshot rate against COPY's. Numbers, not assertions: the goals are checked
// and printed, never thrown.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { CaptureAgent, CAPTURE_SLOT, captureStreamOf, journalChanges } from '../support/capture-agent.js';
import { auditChanges, compareDigests, digestRows, digestSourceTable, replayChanges } from '../support/his-table-audit.js';
import { HisWriter, hisTableSql } from '../support/his-writer.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';
import { shown, type BenchReport } from './bench-report.js';
import { measureFsync } from './disk-baseline.js';
import { ProcessWatch } from './process-watch.js';
import { percentile } from './workload.js';

export interface PostgresCaptureBenchOptions {
  /** A directory of the bench's own; the section makes sub-directories. */
  dir: string;
  /** Single-row transactions per second; default 2,000. */
  ratePerSecond: number;
  /** How long the writer writes; default 30 s in the bench run, 300 s for the 5-minute run. */
  seconds: number;
  /** Rows the snapshot copies; default 200,000. */
  snapshotRows: number;
}

const TABLE = 'ward_admissions';
const SNAPSHOT_TABLE = 'ward_history';

/** psql of the newest PostgreSQL under /usr/lib/postgresql, the one ThrowawayPostgres runs. */
function psqlPath(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'psql')));
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0]!, 'bin', 'psql');
}

/** Times the server's own COPY (SELECT …) TO STDOUT of `sql` through psql, output discarded: the baseline a snapshot is held to. */
async function timeServerCopy(server: ThrowawayPostgres, sql: string): Promise<number> {
  const psql = psqlPath();
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(psql, ['-X', '-q', '-h', server.host, '-p', String(server.port), '-U', 'postgres', '-d', 'postgres', '-c', `COPY (${sql}) TO STDOUT`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql COPY exited ${code}: ${err}`))));
  });
  return (performance.now() - start) / 1000;
}

/** The first and last journal ts_ms of the changes (a loop: spreading a million into Math.min overflows the stack). */
function tsRange(changes: readonly { tsMs: number }[]): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const c of changes) {
    if (c.tsMs < first) first = c.tsMs;
    if (c.tsMs > last) last = c.tsMs;
  }
  return { first, last };
}

export async function measurePostgresCapture(report: BenchReport, options: PostgresCaptureBenchOptions): Promise<void> {
  report.begin(`9. PostgreSQL capture: ${options.ratePerSecond.toLocaleString('en-US')} single-row transactions/s for ${options.seconds} s, and a ${options.snapshotRows.toLocaleString('en-US')}-row snapshot`);
  await measureStream(report, options);
  await measureSnapshot(report, options);
}

async function measureStream(report: BenchReport, options: PostgresCaptureBenchOptions): Promise<void> {
  const dir = join(options.dir, 'pg-stream');
  mkdirSync(dir, { recursive: true });
  // synchronous_commit on, as a HIS runs: with the throwaway's default (off) a commit's WAL
  // waits for the WAL writer (wal_writer_delay, 200 ms) before the walsender may send it,
  // which would be most of the lag measured. fsync stays off (it is the server's disk, not the agent's).
  const server = await ThrowawayPostgres.create({ settings: { max_connections: 50, synchronous_commit: 'on' } });
  let capture: CaptureAgent | undefined;
  try {
    await server.query(hisTableSql(TABLE));
    await server.query(`CREATE PUBLICATION ${CAPTURE_SLOT} FOR TABLE ${TABLE}`);
    capture = await CaptureAgent.create(dir, { server, tables: [TABLE], relay: true, logLevel: 'warn' });
    const agent = capture;
    await agent.start();
    await agent.waitForCapture('the source to stream', (c) => c.state === 'streaming', 60_000);
    const stream = captureStreamOf(TABLE);
    const watch = new ProcessWatch(agent.agentPid!, `${agent.agentHttp}/metrics`);
    await watch.start(2_000);
    // As many keys as transactions: about a third of them update a row written earlier in the run.
    const writer = new HisWriter(server, { table: TABLE, keys: Math.max(10_000, options.ratePerSecond * options.seconds), connections: 4, multiRowShare: 0, deleteShare: 0, ratePerSecond: options.ratePerSecond });
    const writeStart = performance.now();
    writer.start();
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    const written = await writer.stop();
    const writeSeconds = (performance.now() - writeStart) / 1000;
    const source = await digestSourceTable(server, TABLE);
    const db = agent.openDb();
    try {
      // The journal catches up with everything committed.
      const caughtUpStart = performance.now();
      const local = await until('the local copy to equal the table', () => digestRows(db.localCopy(stream)), (d) => d.digest === source.digest, {
        timeoutMs: Math.max(900_000, options.seconds * 20_000), // an agent slower than the writer needs many times the run to catch up
        pollMs: 500,
        describe: (d) => JSON.stringify({ local: d.rows, source: source.rows, diff: compareDigests(source, d) }).slice(0, 1_000),
      }).catch(() => digestRows(db.localCopy(stream)));
      const catchUpSeconds = (performance.now() - caughtUpStart) / 1000;
      const agentWatch = await watch.stop();
      // The vendor's copy: the feed drained to the relay and read back whole.
      await until('the relay to acknowledge the journal', () => agent.status(), (s) => s.feeds.every((f) => f.ackedSeq >= s.journal.headSeq), { timeoutMs: 900_000, pollMs: 500 });
      const changes = journalChanges(db, stream);
      const lags = changes.filter((c) => c.headers.commitTime).map((c) => c.tsMs - Date.parse(c.headers.commitTime!)).sort((a, b) => a - b);
      const { first: firstTs, last: lastTs } = tsRange(changes);
      // What one append per transaction, each awaited before the next, can reach at most on this disk.
      const fsync = measureFsync(dir);
      report.record('ceiling for one awaited append per transaction', 1000 / fsync.p50Ms, 'transactions/s', `1 / fsync p50 (${shown(fsync.p50Ms)} ms, p99 ${shown(fsync.p99Ms)} ms) on the agent's disk`);
      report.record('writer: transactions committed', written.committed, 'transactions', `${shown(written.committed / writeSeconds)}/s over ${shown(writeSeconds)} s against ${options.ratePerSecond}/s asked; 4 connections, autocommit upserts`);
      report.record('agent: transactions journaled per second', changes.length / Math.max(0.001, (lastTs - firstTs) / 1000), 'transactions/s', `${changes.length.toLocaleString('en-US')} changes from the first to the last journal ts_ms; one append per transaction, which the journal groups into SQLite commits`);
      report.record('commit-to-journal lag p50', percentile(lags, 0.5), 'ms', "pg's commit time (commitTime header) to the journal row's ts_ms, every change");
      report.record('commit-to-journal lag p99', percentile(lags, 0.99), 'ms', `max ${shown(lags[lags.length - 1]!)} ms`);
      report.record('catch-up after the writer stopped', catchUpSeconds, 's', local.digest === source.digest ? 'until the local copy equalled the table' : 'gave up waiting: the local copy still differs');
      report.record('agent RSS, highest', agentWatch.maxRssBytes / 2 ** 20, 'MiB', `event-loop lag p99 worst interval ${shown(agentWatch.maxLoopP99Ms)} ms`);
      const localDiff = compareDigests(source, local);
      const journalAudit = auditChanges(changes);

      const feed = await agent.vendorFeed();
      const feedChanges = feed.map((e) => ({ seq: e.seq, key: e.key, op: e.op, row: e.body as Record<string, unknown>, headers: e.headers }));
      const vendor = digestRows(replayChanges(feedChanges));
      const vendorDiff = compareDigests(source, vendor);
      const feedAudit = auditChanges(feedChanges);
      const missing = localDiff.missing.length + localDiff.different.length + vendorDiff.missing.length + vendorDiff.different.length + journalAudit.gaps.length + feedAudit.gaps.length;
      const duplicated = localDiff.extra.length + vendorDiff.extra.length + journalAudit.duplicates.length + feedAudit.duplicates.length + (feed.length - new Set(feed.map((e) => e.seq)).size);
      report.record('source table rows', source.rows, 'rows', `digest ${source.digest.slice(0, 12)}; local copy ${local.digest.slice(0, 12)}; vendor feed ${vendor.digest.slice(0, 12)}`);
      report.record('missing (local copy, vendor feed, version gaps)', missing, 'rows', `${feed.length.toLocaleString('en-US')} feed events for ${changes.length.toLocaleString('en-US')} journal changes`);
      report.record('duplicated (local copy, vendor feed, repeated versions)', duplicated, 'rows');
      const p50 = percentile(lags, 0.5);
      const p99 = percentile(lags, 0.99);
      const reached = written.committed / writeSeconds;
      report.check(
        `PostgreSQL ${options.ratePerSecond} tx/s, commit-to-journal lag p50 < 50 ms and p99 < 500 ms`,
        'p50 < 50 ms, p99 < 500 ms',
        `p50 ${shown(p50)} ms, p99 ${shown(p99)} ms at ${shown(reached)} tx/s for ${shown(writeSeconds)} s`,
        p50 < 50 && p99 < 500 && reached >= options.ratePerSecond * 0.95,
      );
      report.check('PostgreSQL digest: table = local copy = vendor feed', '0 missing, 0 duplicated', `${missing} missing, ${duplicated} duplicated`, missing === 0 && duplicated === 0 && local.digest === source.digest && vendor.digest === source.digest);
    } finally {
      db.close();
    }
  } finally {
    await capture?.stop().catch(() => undefined);
    await server.destroy().catch(() => undefined);
  }
}

async function measureSnapshot(report: BenchReport, options: PostgresCaptureBenchOptions): Promise<void> {
  const dir = join(options.dir, 'pg-snapshot');
  mkdirSync(dir, { recursive: true });
  const server = await ThrowawayPostgres.create();
  let capture: CaptureAgent | undefined;
  try {
    await server.query(hisTableSql(SNAPSHOT_TABLE));
    await server.query(`INSERT INTO ${SNAPSHOT_TABLE} (id, v, batch, batch_size, note) SELECT g, 1, g, 1, 'discharged to ward ' || (g % 40) FROM generate_series(1, $1) g`, [options.snapshotRows]);
    await server.query(`ANALYZE ${SNAPSHOT_TABLE}`);
    await server.query(`CREATE PUBLICATION ${CAPTURE_SLOT} FOR TABLE ${SNAPSHOT_TABLE}`);
    // The baseline: the server's own COPY of the same rows in the same key order (median of 3, warm).
    const copies: number[] = [];
    for (let i = 0; i < 3; i++) copies.push(await timeServerCopy(server, `SELECT * FROM ${SNAPSHOT_TABLE} ORDER BY id`));
    copies.sort((a, b) => a - b);
    const copyRate = options.snapshotRows / copies[1]!;
    capture = await CaptureAgent.create(dir, { server, tables: [SNAPSHOT_TABLE], logLevel: 'warn' });
    const agent = capture;
    const start = performance.now();
    await agent.start();
    await agent.waitForCapture('the snapshot to finish', (c) => c.snapshot?.percent === 100 && c.state === 'streaming', 600_000);
    const wallSeconds = (performance.now() - start) / 1000;
    const db = agent.openDb();
    let rows: number;
    let copySeconds: number;
    try {
      const changes = journalChanges(db, captureStreamOf(SNAPSHOT_TABLE));
      rows = changes.length;
      const range = tsRange(changes);
      copySeconds = (range.last - range.first) / 1000;
    } finally {
      db.close();
    }
    report.record('server COPY (SELECT …) TO STDOUT of the same rows', copyRate, 'rows/s', `median of 3 through psql, output discarded: ${shown(copies[1]!)} s`);
    report.record('agent snapshot, rows journaled', rows, 'rows', `chunks of the default 10,000 rows`);
    report.record('agent snapshot rate', rows / copySeconds, 'rows/s', `first to last chunk's journal ts_ms (${shown(copySeconds)} s); ${shown((rows / copySeconds / copyRate) * 100)}% of COPY's`);
    report.record('agent snapshot rate including start-up', rows / wallSeconds, 'rows/s', `agent process start, preflight and slot creation included (${shown(wallSeconds)} s)`);
  } finally {
    await capture?.stop().catch(() => undefined);
    await server.destroy().catch(() => undefined);
  }
}
