// `npm run bench`: measures the replication spine on this machine and prints a
// table (and writes JSON to test/bench/results/latest.json). Every figure comes
// with a baseline measured in the same run on the same disk, because absolute
// numbers on a shared machine drift.
//
//  1. fsync latency of the data disk, and raw better-sqlite3 inserts of the same
//     events in 1,000-row transactions with the agent's pragmas (the ceiling).
//  2. Sustained MLLP ingest into a real agent process, ACK after commit, over
//     several concurrent connections: messages/s, ACK latency p50/p99.
//  3. Replication drain: the same number of events journaled while the relay is
//     down, then the relay starts; events/s until the relay holds them all, and
//     the vendor feed's read rate.
import Database from 'better-sqlite3';
import { closeSync, fsyncSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Hl7Corpus, MllpSender, type CorpusMessage } from '../../simulator/index.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_FEED, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';

const MESSAGES = Number(process.env.WARDLINE_BENCH_MESSAGES ?? 20_000);
const CONNECTIONS = Number(process.env.WARDLINE_BENCH_CONNECTIONS ?? 8);

interface Row {
  measure: string;
  value: number;
  unit: string;
  note: string;
}

const rows: Row[] = [];
const record = (measure: string, value: number, unit: string, note = ''): void => {
  rows.push({ measure, value: Math.round(value * 100) / 100, unit, note });
  process.stderr.write(`  ${measure}: ${value.toFixed(2)} ${unit} ${note}\n`);
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

function corpusOf(count: number, seed: string): CorpusMessage[] {
  const corpus = new Hl7Corpus({ seed });
  return Array.from({ length: count }, () => corpus.next());
}

function measureFsync(dir: string): void {
  const file = join(dir, 'fsync.probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const samples: number[] = [];
  for (let i = 0; i < 300; i++) {
    writeSync(fd, block, 0, block.length, 0);
    const start = performance.now();
    fsyncSync(fd);
    samples.push(performance.now() - start);
  }
  closeSync(fd);
  samples.sort((a, b) => a - b);
  record('disk fsync p50', percentile(samples, 0.5), 'ms', '4 KiB overwrite + fsync, 300 samples');
  record('disk fsync p99', percentile(samples, 0.99), 'ms');
}

function measureRawInserts(dir: string, messages: CorpusMessage[]): number {
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL,
    ts_ms INTEGER NOT NULL, source TEXT NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL, headers TEXT NOT NULL)`);
  const insert = db.prepare('INSERT INTO journal (stream, key, op, ts_ms, source, content_type, body, headers) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertMany = db.transaction((batch: CorpusMessage[]) => {
    for (const m of batch) insert.run(m.stream, m.key, 'upsert', Date.now(), 'bench', 'hl7v2', Buffer.from(m.text), `{"controlId":"${m.controlId}"}`);
  });
  const start = performance.now();
  for (let i = 0; i < messages.length; i += 1000) insertMany(messages.slice(i, i + 1000));
  const seconds = (performance.now() - start) / 1000;
  db.close();
  const rate = messages.length / seconds;
  record('raw SQLite inserts (ceiling)', rate, 'events/s', '1,000-row transactions, WAL, synchronous=FULL');
  return rate;
}

async function main(): Promise<void> {
  const dir = makeTempDir('wardline-bench-');
  const out: Record<string, unknown> = {};
  try {
    process.stderr.write(`wardline bench: ${MESSAGES} messages, ${CONNECTIONS} MLLP connections, ${cpus().length} cores\n`);
    measureFsync(dir.path);
    const messages = corpusOf(MESSAGES, 'bench-ingest');
    const meanBytes = messages.reduce((n, m) => n + m.bytes.length, 0) / messages.length;
    const ceiling = measureRawInserts(dir.path, messages);

    const pair = await WardlinePair.create(dir.path, { hospital: 'bench-hospital', logLevel: 'warn' });
    await pair.startRelay();
    await pair.startAgent();
    const status = () => pair.agentStatus();

    // 2. Sustained ingest with the link up (replication running alongside).
    const ingest = async (batch: CorpusMessage[], label: string) => {
      const senders = Array.from({ length: CONNECTIONS }, () => new MllpSender({ host: '127.0.0.1', port: pair.ports.mllp }));
      const latencies: number[] = [];
      let next = 0;
      const start = performance.now();
      await Promise.all(
        senders.map(async (sender) => {
          while (next < batch.length) {
            const message = batch[next++]!;
            const ack = await sender.send(message.bytes, message.controlId);
            if (ack.code !== 'AA') throw new Error(`${message.controlId}: ${ack.code} ${ack.text}`);
            latencies.push(ack.latencyMs);
          }
        }),
      );
      const seconds = (performance.now() - start) / 1000;
      await Promise.all(senders.map((s) => s.close()));
      latencies.sort((a, b) => a - b);
      const rate = batch.length / seconds;
      record(`MLLP ingest, ${label}`, rate, 'messages/s', `${CONNECTIONS} connections, ACK after fsync; ${(rate / ceiling * 100).toFixed(0)}% of the raw insert ceiling`);
      record(`ACK latency p50, ${label}`, percentile(latencies, 0.5), 'ms');
      record(`ACK latency p99, ${label}`, percentile(latencies, 0.99), 'ms');
      return { rate, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
    };
    out.ingestLinkUp = await ingest(messages, 'link up');
    const upStart = performance.now();
    let s = await pair.waitForDrain();
    record('replication caught up after ingest ended', (performance.now() - upStart) / 1000, 's', 'link up: the relay keeps pace with ingest');

    // 3. The same volume journaled with the relay down, then drained.
    await pair.relay!.kill('SIGTERM');
    const downMessages = corpusOf(MESSAGES, 'bench-outage');
    out.ingestLinkDown = await ingest(downMessages, 'relay down');
    const before = (await status()).feeds[0]!.ackedSeq;
    const target = (await status()).journal.headSeq;
    const drainStart = performance.now();
    const relayStarting = pair.startRelay();
    let firstAckMs: number | undefined;
    for (;;) {
      s = await status().catch(() => s);
      if (firstAckMs === undefined && s.feeds[0]!.ackedSeq > before) firstAckMs = performance.now() - drainStart;
      if (s.feeds[0]!.ackedSeq >= target) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const drainSeconds = (performance.now() - drainStart) / 1000;
    await relayStarting;
    const drained = target - before;
    record('relay restart to first ack', (firstAckMs ?? NaN) / 1000, 's', 'includes relay process start-up');
    record('backlog drain, agent journal to relay durable ack', drained / drainSeconds, 'events/s', `${drained} events of ${meanBytes.toFixed(0)} B mean, including relay start-up; ${((drained / drainSeconds / ceiling) * 100).toFixed(0)}% of the raw insert ceiling`);

    const readStart = performance.now();
    const feed = await readWholeFeed(pair.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY);
    const readSeconds = (performance.now() - readStart) / 1000;
    if (feed.length !== MESSAGES * 2) throw new Error(`vendor feed holds ${feed.length} events, expected ${MESSAGES * 2}`);
    record('vendor feed read (HTTP NDJSON)', feed.length / readSeconds, 'events/s', `${feed.length} events, 5,000 per page`);

    await pair.stop();
    out.rows = rows;
    out.machine = { cores: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
    const resultsDir = fileURLToPath(new URL('../../../test/bench/results/', import.meta.url));
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(out, null, 2));
    const width = Math.max(...rows.map((r) => r.measure.length));
    process.stdout.write(`\n${'measure'.padEnd(width)}  ${'value'.padStart(10)}  unit\n`);
    for (const r of rows) process.stdout.write(`${r.measure.padEnd(width)}  ${String(r.value).padStart(10)}  ${r.unit}${r.note ? `  (${r.note})` : ''}\n`);
  } finally {
    dir.remove();
  }
}

await main();
