// One UPDATE of every row of a large table in a single transaction, through the
// agent process: the agent's peak memory (VmHWM), the walsender staying attached
// (same active_pid throughout, a short wal_sender_timeout so a silent agent would be
// cut), and the journal seen from outside while the agent commits it: the count of
// the transaction's events is 0 or all of them, never a part. Shared by the scaled
// test (100,000 rows) and scripts/capture-large-postgres.mjs (1,000,000).
import { CaptureAgent, CAPTURE_SLOT, captureStreamOf, readSlot } from '../support/capture-agent.js';
import { hisTableSql } from '../support/his-writer.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

export const LARGE_TABLE = 'ward_orders';

export interface LargeTransactionOptions {
  dir: string;
  rows: number;
  /** The server's wal_sender_timeout; default 10s. */
  walSenderTimeout?: string;
  log?: (line: string) => void;
}

export interface LargeTransactionResult {
  rows: number;
  /** Distinct counts of the transaction's events seen in the journal while it was committed. */
  countsSeen: number[];
  polls: number;
  /** The UPDATE's own duration on the server, s. */
  updateSeconds: number;
  /** From the UPDATE's commit to every event in the journal, s. */
  commitToJournalSeconds: number;
  /** Peak resident memory of the agent process (VmHWM), before and after. */
  hwmBeforeBytes: number;
  hwmAfterBytes: number;
  /** The walsender pids seen holding the slot while the transaction was streamed (one = never reconnected). */
  walsenderPids: number[];
  /** Capture states seen meanwhile (retrying = the stream broke). */
  statesSeen: string[];
  /** The longest a /v1/status request waited meanwhile, ms: how long the agent's event loop was blocked at most (a walsender gets no reply meanwhile either). */
  longestStatusWaitMs: number;
  /** Agent log lines mentioning a timeout or a retry. */
  troubleInLog: string[];
}

export async function runLargeTransaction(options: LargeTransactionOptions): Promise<LargeTransactionResult> {
  const log = options.log ?? (() => undefined);
  const server = await ThrowawayPostgres.create({ settings: { wal_sender_timeout: options.walSenderTimeout ?? '10s', max_wal_size: '1GB' } });
  let capture: CaptureAgent | undefined;
  try {
    await server.query(hisTableSql(LARGE_TABLE));
    await server.query(`INSERT INTO ${LARGE_TABLE} (id, v, batch, batch_size, note) SELECT g, 1, 0, 1, 'order ' || g FROM generate_series(1, $1) g`, [options.rows]);
    await server.query(`CREATE PUBLICATION ${CAPTURE_SLOT} FOR TABLE ${LARGE_TABLE}`);
    // snapshot: never, so only the one transaction is journaled; the default in-memory bound, so it is staged.
    capture = await CaptureAgent.create(options.dir, { server, tables: [LARGE_TABLE], source: { snapshot: 'never' } });
    const agent = capture;
    await agent.start();
    await agent.waitForCapture('the source to stream', (c) => c.state === 'streaming', 60_000);
    const stream = captureStreamOf(LARGE_TABLE);
    const hwmBeforeBytes = agent.memory()!.hwmBytes;
    const db = agent.openDb();
    const countsSeen = new Set<number>();
    const walsenderPids = new Set<number>();
    const statesSeen = new Set<string>();
    let polls = 0;
    let longestStatusWaitMs = 0;
    let watching = true;
    const before = db.headSeq();
    const journalWatch = (async () => {
      while (watching) {
        countsSeen.add(db.journalCount(stream, `seq > ${before}`));
        polls += 1;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const serverWatch = (async () => {
      while (watching) {
        const slot = await readSlot(server, CAPTURE_SLOT).catch(() => null);
        if (slot?.activePid) walsenderPids.add(slot.activePid);
        const asked = Date.now();
        const state = await fetch(`${agent.agentHttp}/v1/status`, { signal: AbortSignal.timeout(120_000) })
          .then(async (r) => ((await r.json()) as { sources: { name: string; capture?: { state: string } }[] }).sources[0]?.capture?.state ?? 'none')
          .catch(() => 'unanswered');
        longestStatusWaitMs = Math.max(longestStatusWaitMs, Date.now() - asked);
        statesSeen.add(state);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const updateStart = Date.now();
    await server.query(`UPDATE ${LARGE_TABLE} SET v = v + 1, batch = 1, batch_size = $1`, [options.rows]);
    const committedAt = Date.now();
    log(`UPDATE of ${options.rows} rows took ${((committedAt - updateStart) / 1000).toFixed(1)} s on the server`);
    await until('the whole transaction in the journal', () => db.journalCount(stream, `seq > ${before}`), (n) => n >= options.rows, {
      timeoutMs: Math.max(60_000, options.rows / 2),
      pollMs: 50,
      describe: (n) => `${n} of ${options.rows}\n${agent.log().slice(-3_000)}`,
    });
    const journaledAt = Date.now();
    // A little longer: a second copy would show as a count above rows.
    await new Promise((r) => setTimeout(r, 1_000));
    watching = false;
    await Promise.all([journalWatch, serverWatch]);
    countsSeen.add(db.journalCount(stream, `seq > ${before}`));
    db.close();
    const hwmAfterBytes = agent.memory()!.hwmBytes;
    const troubleInLog = agent
      .log()
      .split('\n')
      .filter((line) => /timeout|retrying|terminat/i.test(line));
    return {
      rows: options.rows,
      countsSeen: [...countsSeen].sort((a, b) => a - b),
      polls,
      updateSeconds: (committedAt - updateStart) / 1000,
      commitToJournalSeconds: (journaledAt - committedAt) / 1000,
      hwmBeforeBytes,
      hwmAfterBytes,
      walsenderPids: [...walsenderPids],
      statesSeen: [...statesSeen],
      longestStatusWaitMs,
      troubleInLog,
    };
  } finally {
    await capture?.stop().catch(() => undefined);
    await server.destroy().catch(() => undefined);
  }
}
