// The crash suite on MariaDB, scaled down for `npm test`: a real agent (the built
// CLI, a child process) captures a table by GTID while a writer commits
// multi-statement transactions; the agent is killed with SIGKILL 5 times (the first
// during its initial snapshot of 20,000 rows) and the server restarted 3 times
// (clean, SIGKILL, clean). At the end the local copy in agent.db equals the table, and every row's
// versions arrived in order, each exactly once (nothing lost, nothing doubled);
// no snapshot chunk was copied twice. Set MYSQL_CRASH_KILLS / _SECONDS for more.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { MARIADB_TEST_PASSWORD, ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { until } from '../support/until.js';
import { WardlineProcess, waitForHttp } from '../support/wardline-process.js';

const KILLS = Number(process.env.MYSQL_CRASH_KILLS ?? 5);
const SERVER_RESTARTS = 3;
const SEED_ROWS = 20_000;
const STREAM = 'his.ward_events';

let server: ThrowawayMariadb;
const dir = makeTempDir('wardline-mysql-crash-');
let agent: WardlineProcess | undefined;
let httpPort = 0;

async function startAgent(): Promise<void> {
  agent = new WardlineProcess(['agent', 'start', '--config', join(dir.path, 'agent.yaml')], join(dir.path, 'agent.log'));
  await waitForHttp(`http://127.0.0.1:${httpPort}/healthz`, agent);
}

async function captureStatus(): Promise<Record<string, unknown> | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/v1/status`, { signal: AbortSignal.timeout(3_000) });
    const body = (await response.json()) as { sources: { name: string; capture?: Record<string, unknown> }[] };
    return body.sources.find((s) => s.name === 'his')?.capture;
  } catch {
    return undefined;
  }
}

/** A writer of the HIS: each transaction inserts, bumps the version of and deletes rows; it rides out server restarts. */
class HisWriter {
  private connection: mysql.Connection | undefined;
  private nextId = SEED_ROWS + 1;
  private readonly live: number[] = Array.from({ length: SEED_ROWS }, (_, i) => i + 1);
  transactions = 0;
  failures = 0;
  private running = true;
  readonly done: Promise<void>;

  constructor() {
    this.done = this.run();
  }

  stop(): Promise<void> {
    this.running = false;
    return this.done;
  }

  private pick(): number {
    return this.live[Math.floor(Math.random() * this.live.length)]!;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        this.connection ??= await server.connect();
        const c = this.connection;
        await c.query('START TRANSACTION');
        const id = this.nextId++;
        await c.query('INSERT INTO ward_events (id, v, note) VALUES (?, 1, ?)', [id, `admitted ${id}`]);
        const bumped = [...new Set([this.pick(), this.pick(), this.pick()])];
        await c.query("UPDATE ward_events SET v = v + 1, note = CONCAT('moved ', v + 1) WHERE id IN (?)", [bumped]);
        const gone = this.transactions % 7 === 0 ? this.pick() : undefined;
        if (gone !== undefined) await c.query('DELETE FROM ward_events WHERE id = ?', [gone]);
        await c.query('COMMIT');
        this.live.push(id);
        if (gone !== undefined) this.live.splice(this.live.indexOf(gone), 1);
        this.transactions++;
        // About 150 transactions a second: what one journal append per source transaction keeps up with here.
        await new Promise((resolve) => setTimeout(resolve, 5));
      } catch {
        // The server is restarting (or the commit's answer was lost): the ids are
        // re-read from the table, since a lost answer may still have committed.
        this.failures++;
        this.connection?.destroy();
        this.connection = undefined;
        await new Promise((resolve) => setTimeout(resolve, 200));
        try {
          const rows = await server.query<{ id: number }[]>('SELECT id FROM ward_events');
          this.live.splice(0, this.live.length, ...rows.map((r) => r.id));
          const max = await server.query<{ m: number }[]>('SELECT MAX(id) AS m FROM ward_events');
          this.nextId = Math.max(this.nextId, (max[0]?.m ?? 0) + 1);
        } catch {
          // still down
        }
      }
    }
    this.connection?.destroy();
  }
}

beforeAll(async () => {
  server = await ThrowawayMariadb.create();
  await server.query('CREATE TABLE ward_events (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(50))');
  const values = Array.from({ length: SEED_ROWS }, (_, i) => `(${i + 1}, 1, 'seeded')`).join(',');
  await server.query(`INSERT INTO ward_events (id, v, note) VALUES ${values}`);
  httpPort = await freePort();
  writeFileSync(join(dir.path, 'mariadb.password'), `${MARIADB_TEST_PASSWORD}\n`, { mode: 0o600 });
  const source = {
    kind: 'mysql',
    name: 'his',
    connection: { host: server.host, port: server.port, database: 'test', user: 'wardline', passwordFile: 'mariadb.password' },
    tables: [{ table: 'ward_events' }],
    serverId: 77,
    snapshotChunkRows: 500,
    maxTransactionRowsInMemory: 1_000,
  };
  writeFileSync(
    join(dir.path, 'agent.yaml'),
    `hospital: { id: crash-hospital }
dataDir: ./data
http: { listen: "127.0.0.1:${httpPort}" }
sources: [${JSON.stringify(source)}]
log: { level: info }
`,
  );
});

afterAll(async () => {
  await agent?.kill('SIGKILL');
  await server.destroy();
  if (process.env.MYSQL_CRASH_KEEP) console.log(`kept ${dir.path}`);
  else dir.remove();
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('mysql crash suite (MariaDB, GTID resume)', () => {
  it(`survives ${KILLS} SIGKILLs of the agent and ${SERVER_RESTARTS} server restarts with nothing lost or doubled`, async () => {
    const started = Date.now();
    await startAgent();
    // The first kill lands in the initial snapshot.
    await until('the snapshot under way', captureStatus, (c) => Number((c?.snapshot as { rowsCopied?: number } | null)?.rowsCopied ?? 0) > 0, { timeoutMs: 20_000, pollMs: 20 });
    const writer = new HisWriter();
    const events: string[] = [];
    // Agent kills and server restarts alternate after the first kill: kill, kill, restart, kill, restart, kill, restart, kill…
    const plan = Array.from({ length: KILLS + SERVER_RESTARTS }, (_, i) => (i > 0 && i % 2 === 0 && i / 2 <= SERVER_RESTARTS ? 'server' : 'agent'));
    for (const [i, step] of plan.entries()) {
      await pause(i === 0 ? 200 : 1_000 + Math.random() * 1_500);
      if (step === 'server') {
        const how = events.filter((e) => e.startsWith('server')).length === 1 ? 'kill' : 'stop';
        await (how === 'kill' ? server.kill() : server.stop());
        events.push(`server ${how}`);
        await pause(500);
        await server.start();
      } else {
        const status = await captureStatus();
        await agent!.kill('SIGKILL');
        events.push(`agent kill (${String(status?.state)})`);
        await startAgent();
      }
    }
    expect(events[0]).toBe('agent kill (snapshotting)');
    expect(events.filter((e) => e.startsWith('server'))).toHaveLength(SERVER_RESTARTS);
    await pause(1_000);
    await writer.stop();

    // The local copy equals the table.
    const table = await server.query<{ id: number; v: number; note: string }[]>('SELECT id, v, note FROM ward_events ORDER BY id');
    const db = new Database(join(dir.path, 'data', 'agent.db'), { readonly: true });
    try {
      const mismatches = await until(
        'the local copy equal to the table',
        () => {
          const copy = new Map((db.prepare('SELECT r.key AS key, COALESCE(r.body, j.body) AS body FROM records r LEFT JOIN journal j ON j.seq = r.seq WHERE r.stream = ?').all(STREAM) as { key: string; body: Buffer }[]).map((r) => [r.key, r.body.toString()]));
          let wrong = copy.size === table.length ? 0 : Math.abs(copy.size - table.length);
          for (const row of table) if (copy.get(String(row.id)) !== JSON.stringify(row)) wrong++;
          return wrong;
        },
        (n) => n === 0,
        { timeoutMs: 60_000, pollMs: 500 },
      );
      expect(mismatches).toBe(0);
      const capture = await until('streaming once caught up', captureStatus, (c) => c?.state === 'streaming', { timeoutMs: 20_000 });

      // Each row's versions in the journal: 1, 2, 3… with none missing and none twice.
      const journal = db.prepare('SELECT key, op, body, headers FROM journal WHERE stream = ? ORDER BY seq').all(STREAM) as { key: string; op: string; body: Buffer; headers: string }[];
      const versions = new Map<string, number[]>();
      const snapshotted = new Map<string, number>();
      for (const event of journal) {
        if (JSON.parse(event.headers).snapshot === 'true') snapshotted.set(event.key, (snapshotted.get(event.key) ?? 0) + 1);
        if (event.op !== 'upsert') continue;
        versions.set(event.key, [...(versions.get(event.key) ?? []), (JSON.parse(event.body.toString()) as { v: number }).v]);
      }
      const broken = [...versions].filter(([, vs]) => vs.some((v, i) => i > 0 && v !== vs[i - 1]! + 1));
      expect(broken.slice(0, 5), 'rows whose versions skip or repeat').toEqual([]);
      expect([...snapshotted.values()].filter((n) => n > 1), 'rows the snapshot copied twice').toEqual([]);
      // The seeded rows, and the writer's inserts the snapshot reached before the stream did.
      expect(snapshotted.size).toBeGreaterThanOrEqual(SEED_ROWS);
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `mysql crash suite: ${events.join(', ')}; writer ${writer.transactions} transactions (${writer.failures} failed while the server was down), ${journal.length} journal events, ${table.length} rows equal, lag ${String(capture?.lagMs)} ms, ${seconds.toFixed(0)} s`,
      );
      expect(writer.transactions).toBeGreaterThan(50);
    } finally {
      db.close();
    }
  }, 150_000);
});
