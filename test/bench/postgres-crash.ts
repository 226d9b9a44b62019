// The PostgreSQL crash scenario, shared by the scaled test in `npm test`
// (test/integration/postgres-crash.int.test.ts) and the full run
// (scripts/capture-crash-postgres.mjs: 20 kills, 3 server restarts). A writer keeps
// committing single-row and multi-row transactions into a ThrowawayPostgres while
// the agent is killed with SIGKILL at random moments and restarted, and the server
// is restarted under it (a clean fast shutdown and a SIGKILL, alternately). After
// each kill, and every 200 ms while it runs, the slot's confirmed_flush_lsn must not
// be past the position saved in agent.db; at the end the source table, the local
// copy and the journal's change sequence must agree (nothing lost, nothing doubled,
// no transaction in part).
import { join } from 'node:path';
import { CaptureAgent, CAPTURE_SLOT, captureStreamOf, journalChanges, readSlot, savedLsn, type AgentDbReader } from '../support/capture-agent.js';
import { auditChanges, compareDigests, digestRows, digestSourceTable, type ChangeAudit, type DigestComparison } from '../support/his-table-audit.js';
import { HisWriter, hisTableSql, type HisWriterStats } from '../support/his-writer.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

export const CRASH_TABLE = 'ward_events';

export interface CrashScenarioOptions {
  /** Where the agent's config, data and logs go. */
  dir: string;
  kills: number;
  /** Server restarts, spread over the kills: clean (fast shutdown) and SIGKILL alternately, a clean one first. */
  serverRestarts: number;
  /** Writer transactions per second; default 300. */
  ratePerSecond?: number;
  /** Keys the writer draws from; default 500. */
  keys?: number;
  /** Progress lines (the script prints them). */
  log?: (line: string) => void;
}

export interface PositionCheck {
  /** After which kill (1-based), or 0 for a sample taken while running. */
  kill: number;
  confirmed: string;
  saved: string;
}

export interface CrashScenarioResult {
  kills: number;
  serverRestarts: { clean: number; killed: number };
  /** Position checks after kills (every one of them). */
  afterKills: PositionCheck[];
  /** Samples taken while the agent ran. */
  runningSamples: number;
  /** Any check, after a kill or while running, where the slot's confirmed position was past the journal's. */
  violations: PositionCheck[];
  /** Events the agent journaled in each run before it was killed (a kill of an idle agent proves little). */
  journaledBeforeKill: number[];
  writer: HisWriterStats;
  sourceRows: number;
  sourceDigest: string;
  localCopyDigest: string;
  localCopy: DigestComparison;
  audit: ChangeAudit;
  seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const formatLsn = (lsn: bigint): string => `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;

/**
 * Whether the slot's confirmed position is past the journal's: the source saves
 * `lsn` = every commit at or below it is in the journal, and confirms lsn + 1 to the
 * server (so the server resends nothing committed at lsn), which is not past it.
 */
function confirmedPastJournal(confirmed: bigint, saved: bigint | null): boolean {
  // Checks begin once the source streams, so it has saved where it stands: none saved is a fault too.
  return saved === null || confirmed > saved + 1n;
}

export async function runPostgresCrashScenario(options: CrashScenarioOptions): Promise<CrashScenarioResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const server = await ThrowawayPostgres.create({ settings: { wal_sender_timeout: '10s' } });
  let capture: CaptureAgent | undefined;
  let db: AgentDbReader | undefined;
  let writer: HisWriter | undefined;
  let sampling = false;
  let sampler: Promise<void> | undefined;
  try {
    await server.query(hisTableSql(CRASH_TABLE));
    await server.query(`CREATE PUBLICATION ${CAPTURE_SLOT} FOR TABLE ${CRASH_TABLE}`);
    capture = await CaptureAgent.create(options.dir, { server, tables: [CRASH_TABLE], source: { heartbeatInterval: 1_000 }, logLevel: 'info' });
    const agent = capture;
    const stream = captureStreamOf(CRASH_TABLE);
    await agent.start();
    await agent.waitForCapture('the source to stream', (c) => c.state === 'streaming', 60_000);
    db = agent.openDb();
    const reader = db;

    const afterKills: PositionCheck[] = [];
    const violations: PositionCheck[] = [];
    const journaledBeforeKill: number[] = [];
    let runningSamples = 0;
    let serverDown = false;

    /** The slot first, then the journal: the journal's position only grows, so a later read of it is no less. */
    const check = async (kill: number): Promise<PositionCheck | null> => {
      const slot = await readSlot(server, CAPTURE_SLOT);
      if (slot.confirmed === null) return null;
      const saved = savedLsn(reader.savedPosition());
      const result = { kill, confirmed: formatLsn(slot.confirmed), saved: saved === null ? 'none' : formatLsn(saved) };
      if (confirmedPastJournal(slot.confirmed, saved)) violations.push(result);
      return result;
    };

    sampling = true;
    sampler = (async () => {
      while (sampling) {
        if (!serverDown) {
          try {
            if (await check(0)) runningSamples += 1;
          } catch {
            // the server is going down or coming up: the next sample
          }
        }
        await sleep(200);
      }
    })();

    writer = new HisWriter(server, { table: CRASH_TABLE, keys: options.keys ?? 500, connections: 2, ratePerSecond: options.ratePerSecond ?? 300 });
    writer.start();
    const restartRounds = new Set(Array.from({ length: options.serverRestarts }, (_, i) => Math.floor(((i + 1) * options.kills) / (options.serverRestarts + 1))));
    let clean = 0;
    let killed = 0;
    for (let kill = 1; kill <= options.kills; kill++) {
      // Mid-stream: the writer is committing and the agent journaling when it dies.
      const headAtStart = (await agent.status()).journal.headSeq;
      await writer.waitForCommits(50 + Math.floor(Math.random() * 250));
      await until('the agent to journal in this run', () => agent.status().then((s) => s.journal.headSeq), (h) => h > headAtStart, { timeoutMs: 60_000, describe: (h) => `head ${h}\n${agent.log().slice(-3_000)}` });
      await sleep(Math.random() * 400);
      const headBeforeKill = (await agent.status().catch(() => null))?.journal.headSeq ?? headAtStart;
      await agent.killAgent();
      journaledBeforeKill.push(headBeforeKill - headAtStart);
      await until('the killed agent to leave the slot', () => readSlot(server, CAPTURE_SLOT), (s) => !s.active, { timeoutMs: 30_000 });
      const after = await check(kill);
      if (after) afterKills.push(after);
      log(`kill ${kill}/${options.kills}: journal +${headBeforeKill - headAtStart} in that run, slot confirmed ${after?.confirmed} ≤ saved ${after?.saved} (writer ${writer.stats.committed} committed)`);
      await sleep(Math.random() * 500); // the writer runs on while the agent is down
      await agent.startAgent();
      await agent.waitForCapture('the source to stream again', (c) => c.state === 'streaming' || c.state === 'lagging', 60_000);

      if (restartRounds.has(kill)) {
        await writer.waitForCommits(100);
        const hard = (clean + killed) % 2 === 1;
        serverDown = true;
        if (hard) {
          await server.kill();
          killed += 1;
        } else {
          await server.stop();
          clean += 1;
        }
        await sleep(500);
        await server.start();
        serverDown = false;
        log(`server ${hard ? 'killed (SIGKILL)' : 'stopped (fast shutdown)'} and started again`);
        await agent.waitForCapture('the source to stream after the server restart', (c) => c.state === 'streaming' || c.state === 'lagging', 90_000);
      }
    }

    const writerStats = await writer.stop();
    writer = undefined;
    const source = await digestSourceTable(server, CRASH_TABLE);
    // The agent catches up with everything committed: its local copy becomes the table.
    const localDigest = await until(
      'the local copy to equal the source table',
      () => digestRows(reader.localCopy(stream)),
      (d) => d.digest === source.digest,
      { timeoutMs: 90_000, pollMs: 500, describe: (d) => `${d.rows} rows vs ${source.rows}; ${JSON.stringify(compareDigests(source, d)).slice(0, 500)}` },
    ).catch(() => digestRows(reader.localCopy(stream)));
    sampling = false;
    await sampler;
    // One more kill, caught up and idle: the heartbeat's confirmations too must stay behind the journal.
    await agent.killAgent();
    await until('the killed agent to leave the slot', () => readSlot(server, CAPTURE_SLOT), (s) => !s.active, { timeoutMs: 30_000 });
    const last = await check(options.kills + 1);
    if (last) afterKills.push(last);
    const audit = auditChanges(journalChanges(reader, stream));
    log(`writer: ${writerStats.committed} transactions, ${writerStats.rows} rows (${writerStats.failed} failed while the server was down); journal ${audit.changes} changes`);
    return {
      kills: options.kills + 1,
      serverRestarts: { clean, killed },
      afterKills,
      runningSamples,
      violations,
      journaledBeforeKill,
      writer: writerStats,
      sourceRows: source.rows,
      sourceDigest: source.digest,
      localCopyDigest: localDigest.digest,
      localCopy: compareDigests(source, localDigest),
      audit,
      seconds: (Date.now() - started) / 1000,
    };
  } catch (error) {
    const tail = capture?.log().slice(-4_000) ?? '';
    throw new Error(`${(error as Error).message}\n--- agent log (tail) in ${join(options.dir, 'agent.log')}:\n${tail}`, { cause: error });
  } finally {
    sampling = false;
    await sampler?.catch(() => undefined);
    await writer?.stop().catch(() => undefined);
    db?.close();
    await capture?.stop().catch(() => undefined);
    await server.destroy().catch(() => undefined);
  }
}
