// The machine's limits, measured on the same disk as everything else in the run:
// how long an fsync takes, and how fast bare better-sqlite3 can insert the same
// events in 1,000-row transactions with the agent's pragmas (WAL, synchronous=FULL).
// Every Wardline figure is reported as a ratio to these, because absolute numbers
// on a shared machine drift from run to run.
import Database from 'better-sqlite3';
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EventInput } from '../../agent/store/index.js';
import { percentile } from './workload.js';

const FSYNC_SAMPLES = 500;
const RAW_TRANSACTION_ROWS = 1_000;

export interface FsyncLatency {
  p50Ms: number;
  p99Ms: number;
}

/** A 4 KiB overwrite then fsync, FSYNC_SAMPLES times: what a commit's fsync costs on this disk. */
export function measureFsync(dir: string): FsyncLatency {
  const file = join(dir, 'fsync.probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const samples: number[] = [];
  try {
    for (let i = 0; i < FSYNC_SAMPLES; i++) {
      writeSync(fd, block, 0, block.length, 0);
      const start = performance.now();
      fsyncSync(fd);
      samples.push(performance.now() - start);
    }
  } finally {
    closeSync(fd);
    rmSync(file);
  }
  samples.sort((a, b) => a - b);
  return { p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99) };
}

/**
 * Events/s of plain INSERTs of `events` into a table shaped like the journal, in
 * 1,000-row transactions, with the agent's pragmas: the ceiling for anything that
 * must make the same events durable in SQLite on this disk. Best of `runs`, each
 * into a fresh file, so one unlucky checkpoint does not set the bar low.
 */
export function measureRawInserts(dir: string, events: readonly EventInput[], runs = 3): number {
  let best = 0;
  for (let run = 0; run < runs; run++) {
    const file = join(dir, `raw-${run}.db`);
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL,
        ts_ms INTEGER NOT NULL, source TEXT NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL, headers TEXT NOT NULL)`);
      const insert = db.prepare('INSERT INTO journal (stream, key, op, ts_ms, source, content_type, body, headers) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      const insertMany = db.transaction((batch: readonly EventInput[]) => {
        const tsMs = Date.now();
        for (const e of batch) insert.run(e.stream, e.key, e.op, tsMs, 'bench', e.contentType, e.body, JSON.stringify(e.headers));
      });
      const start = performance.now();
      for (let i = 0; i < events.length; i += RAW_TRANSACTION_ROWS) insertMany(events.slice(i, i + RAW_TRANSACTION_ROWS));
      best = Math.max(best, events.length / ((performance.now() - start) / 1000));
    } finally {
      db.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    }
  }
  return best;
}
