// A large initial snapshot killed part-way (kill -9 of the agent at about half its
// rows) while the HIS keeps writing, then resumed: the chunks finished before the
// kill are not read again (each row's snapshot event is journaled once), and the
// snapshot and the stream converge (the local copy equals the table). Shared by the
// scaled test (test/integration/postgres-snapshot-kill.int.test.ts) and
// scripts/capture-snapshot-kill-postgres.mjs (1,000,000 rows).
import { CaptureAgent, CAPTURE_SLOT, captureStreamOf } from '../support/capture-agent.js';
import { digestRows, digestSourceTable } from '../support/his-table-audit.js';
import { hisTableSql } from '../support/his-writer.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

export const SNAPSHOT_TABLE = 'patients_master';

export interface SnapshotKillOptions {
  dir: string;
  rows: number;
  /** Rows per chunk; default 10,000. */
  chunkRows?: number;
  /** Kill once the snapshot has copied this share (0–1); default 0.5. */
  killAt?: number;
  log?: (line: string) => void;
}

export interface SnapshotKillResult {
  rows: number;
  /** Snapshot rows journaled before the kill. */
  copiedBeforeKill: number;
  /** The snapshot's percent when the agent was killed. */
  percentAtKill: number;
  /** Snapshot events journaled in all, and the keys they cover. */
  snapshotEvents: number;
  snapshotKeys: number;
  /** Rows the HIS changed while the snapshot ran (and after the kill). */
  changesDuring: number;
  sourceDigest: string;
  localCopyDigest: string;
  /** Seconds from the restart to the snapshot's end. */
  resumeSeconds: number;
}

export async function runSnapshotKill(options: SnapshotKillOptions): Promise<SnapshotKillResult> {
  const log = options.log ?? (() => undefined);
  const server = await ThrowawayPostgres.create({ settings: { max_wal_size: '1GB' } });
  let capture: CaptureAgent | undefined;
  try {
    await server.query(hisTableSql(SNAPSHOT_TABLE));
    await server.query(`INSERT INTO ${SNAPSHOT_TABLE} (id, v, batch, batch_size, note) SELECT g, 1, 0, 1, 'patient ' || g FROM generate_series(1, $1) g`, [options.rows]);
    await server.query(`ANALYZE ${SNAPSHOT_TABLE}`);
    await server.query(`CREATE PUBLICATION ${CAPTURE_SLOT} FOR TABLE ${SNAPSHOT_TABLE}`);
    capture = await CaptureAgent.create(options.dir, { server, tables: [SNAPSHOT_TABLE], source: { snapshotChunkRows: options.chunkRows ?? 10_000 } });
    const agent = capture;
    const stream = captureStreamOf(SNAPSHOT_TABLE);
    await agent.start();

    // The HIS writes on throughout: updates of rows on both sides of the snapshot's cursor.
    let writing = true;
    let changesDuring = 0;
    const writer = (async () => {
      const client = await server.connect();
      try {
        while (writing) {
          const id = 1 + Math.floor(Math.random() * options.rows);
          await client.query(`UPDATE ${SNAPSHOT_TABLE} SET v = v + 1, note = 'changed during the snapshot' WHERE id = $1`, [id]);
          changesDuring++;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } finally {
        await client.end();
      }
    })();

    const killAt = (options.killAt ?? 0.5) * 100;
    const atKill = await agent.waitForCapture(`the snapshot at ${killAt}%`, (c) => (c.snapshot?.percent ?? 0) >= killAt, 600_000);
    await agent.killAgent();
    const percentAtKill = atKill.snapshot?.percent ?? 0;
    const reader = agent.openDb();
    const copiedBeforeKill = reader.journalCount(stream, "json_extract(headers, '$.snapshot') = 'true'");
    reader.close();
    log(`killed at ${percentAtKill}% of the snapshot, ${copiedBeforeKill} rows journaled`);

    const restartedAt = Date.now();
    await agent.startAgent();
    await agent.waitForCapture('the snapshot to finish and the stream to run', (c) => c.state === 'streaming', 900_000);
    const resumeSeconds = (Date.now() - restartedAt) / 1000;
    writing = false;
    await writer;

    const source = await digestSourceTable(server, SNAPSHOT_TABLE);
    const db = agent.openDb();
    try {
      const copy = await until('the local copy to equal the table', () => digestRows(db.localCopy(stream)), (d) => d.digest === source.digest, { timeoutMs: 120_000 });
      const snapshotEvents = db.journalCount(stream, "json_extract(headers, '$.snapshot') = 'true'");
      const snapshotKeys = db.distinctKeys(stream, "json_extract(headers, '$.snapshot') = 'true'");
      return { rows: options.rows, copiedBeforeKill, percentAtKill, snapshotEvents, snapshotKeys, changesDuring, sourceDigest: source.digest, localCopyDigest: copy.digest, resumeSeconds };
    } finally {
      db.close();
    }
  } finally {
    await capture?.stop();
    await server.destroy();
  }
}
