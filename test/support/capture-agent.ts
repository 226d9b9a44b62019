// A real agent (the built CLI, a child process a test can kill -9) with one postgres
// source capturing tables of a ThrowawayPostgres, optionally a real relay with a
// vendor feed of the captured streams; and what a fault test needs to judge it:
// agent.db read from outside (journal, local copy, the saved source position),
// /v1/status, the slot as the server sees it, and the process's memory.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import type { CaptureStatus } from '../../agent/sources/database/index.js';
import type { VendorEventJson } from '../../protocol/index.js';
import { freePort } from './free-port.js';
import { readWholeFeed } from './read-feed.js';
import type { ThrowawayPostgres } from './throwaway-postgres.js';
import { until } from './until.js';
import { PAIR_OPERATOR_TOKEN, PAIR_OPERATOR_TOKEN_FILE, PAIR_SECRET, PAIR_VENDOR_KEY } from './wardline-pair.js';
import { WardlineProcess, waitForHttp } from './wardline-process.js';

export const CAPTURE_SOURCE = 'his';
export const CAPTURE_FEED = 'his-rows';

export interface CaptureAgentOptions {
  server: ThrowawayPostgres;
  /** The database the tables are in; default postgres. */
  database?: string;
  /** Tables to capture (names, or entries as agent.yaml takes them). */
  tables: (string | Record<string, unknown>)[];
  /** More keys of the postgres source entry (slot, publication, snapshot, maxTransactionRowsInMemory…). */
  source?: Record<string, unknown>;
  /** Start a relay too, with a feed (CAPTURE_FEED) of the captured tables' streams for a vendor. */
  relay?: boolean;
  /** Top-level agent.yaml sections, e.g. `{ alerts: {...} }`. */
  agentSections?: Record<string, unknown>;
  /** Default info. */
  logLevel?: 'debug' | 'info' | 'warn';
  /** Extra environment for the agent process. */
  agentEnv?: Record<string, string>;
}

/** The stream of a captured table, as the source names it by default. */
export function captureStreamOf(table: string): string {
  return `${CAPTURE_SOURCE}.${table}`;
}

export class CaptureAgent {
  agent: WardlineProcess | undefined;
  relay: WardlineProcess | undefined;
  /** Times the agent process was started (a kill-and-restart test counts them). */
  starts = 0;

  private constructor(
    readonly dir: string,
    readonly ports: { agentHttp: number; relayGrpc: number; relayHttp: number },
    private readonly options: CaptureAgentOptions,
  ) {}

  /** Writes agent.yaml (and relay.yaml) in `dir`; nothing runs until start(). */
  static async create(dir: string, options: CaptureAgentOptions): Promise<CaptureAgent> {
    const ports = { agentHttp: await freePort(), relayGrpc: await freePort(), relayHttp: await freePort() };
    const capture = new CaptureAgent(dir, ports, options);
    capture.writeConfigs();
    return capture;
  }

  get agentHttp(): string {
    return `http://127.0.0.1:${this.ports.agentHttp}`;
  }

  get relayHttp(): string {
    return `http://127.0.0.1:${this.ports.relayHttp}`;
  }

  get dbFile(): string {
    return join(this.dir, 'agent-data', 'agent.db');
  }

  get logFile(): string {
    return join(this.dir, 'agent.log');
  }

  /** The captured tables' names (without schema). */
  get tableNames(): string[] {
    return this.options.tables.map((t) => (typeof t === 'string' ? t : String(t.table)));
  }

  get streams(): string[] {
    return this.tableNames.map((t) => captureStreamOf(t.replace(/^.*\./, '')));
  }

  private writeConfigs(): void {
    const level = this.options.logLevel ?? 'info';
    const { server } = this.options;
    const source = {
      kind: 'postgres',
      name: CAPTURE_SOURCE,
      connection: { host: server.host, port: server.port, database: this.options.database ?? 'postgres', user: 'postgres' },
      tables: this.options.tables.map((t) => (typeof t === 'string' ? { table: t } : t)),
      ...this.options.source,
    };
    const relayed = this.options.relay === true;
    writeFileSync(
      join(this.dir, 'agent.yaml'),
      `hospital: { id: capture-hospital }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${this.ports.agentHttp}" }
sources: [${JSON.stringify(source)}]
${relayed ? `relays: [${JSON.stringify({ name: 'cloud', address: `127.0.0.1:${this.ports.relayGrpc}`, secret: PAIR_SECRET, allowPlaintext: true })}]
feeds: [${JSON.stringify({ name: CAPTURE_FEED, relay: 'cloud', streams: this.streams })}]
replication: { backoff: { initialMs: 100, maxMs: 1000 } }
` : ''}${Object.entries(this.options.agentSections ?? {})
        .map(([key, value]) => `${key}: ${JSON.stringify(value)}\n`)
        .join('')}log: { level: ${level} }
`,
    );
    if (!relayed) return;
    writeFileSync(join(this.dir, PAIR_OPERATOR_TOKEN_FILE), `${PAIR_OPERATOR_TOKEN}\n`, { mode: 0o600 });
    writeFileSync(
      join(this.dir, 'relay.yaml'),
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:${this.ports.relayGrpc}" }
http: { listen: "127.0.0.1:${this.ports.relayHttp}", operatorTokenFile: ${PAIR_OPERATOR_TOKEN_FILE} }
allowPlaintext: true
hospitals: [{ id: capture-hospital, secret: "${PAIR_SECRET}" }]
vendors: [{ name: test-vendor, key: "${PAIR_VENDOR_KEY}", grants: [{ hospital: capture-hospital, feeds: [${CAPTURE_FEED}] }] }]
log: { level: warn }
`,
    );
  }

  /** Starts the relay (when configured) and the agent; resolves once the agent answers /healthz. */
  async start(): Promise<void> {
    if (this.options.relay && !this.relay) {
      this.relay = new WardlineProcess(['relay', 'start', '--config', join(this.dir, 'relay.yaml')], join(this.dir, 'relay.log'));
      await waitForHttp(`${this.relayHttp}/healthz`, this.relay);
    }
    await this.startAgent();
  }

  async startAgent(): Promise<void> {
    if (this.agent) throw new Error('the agent is already running');
    this.agent = new WardlineProcess(['agent', 'start', '--config', join(this.dir, 'agent.yaml')], this.logFile, this.options.agentEnv);
    this.starts += 1;
    const running = this.agent;
    void running.exited.then(() => {
      if (this.agent === running) this.agent = undefined;
    });
    await waitForHttp(`${this.agentHttp}/healthz`, running);
  }

  /** kill -9 of the agent; resolves once it is gone. */
  async killAgent(): Promise<void> {
    const agent = this.agent;
    if (!agent) return;
    await agent.kill('SIGKILL');
    this.agent = undefined;
  }

  /** A clean stop of the agent (SIGTERM). */
  async stopAgent(): Promise<void> {
    const agent = this.agent;
    if (!agent) return;
    await agent.kill('SIGTERM');
    this.agent = undefined;
  }

  /** Stops the agent and the relay. */
  async stop(): Promise<void> {
    await this.stopAgent();
    await this.relay?.kill('SIGTERM');
    this.relay = undefined;
  }

  get agentPid(): number | undefined {
    return this.agent?.child.pid;
  }

  /** Everything the agent logged, over all its runs. */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async status(): Promise<AgentStatus> {
    const response = await fetch(`${this.agentHttp}/v1/status`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`/v1/status: HTTP ${response.status}`);
    return (await response.json()) as AgentStatus;
  }

  /** The postgres source's capture status on /v1/status. */
  async capture(): Promise<CaptureStatus> {
    const source = (await this.status()).sources.find((s) => s.name === CAPTURE_SOURCE);
    if (!source?.capture) throw new Error(`/v1/status has no capture status for source ${CAPTURE_SOURCE}`);
    return source.capture;
  }

  /** Polls the capture status until `ok`; the timeout message shows the last status and the log's tail. */
  async waitForCapture(what: string, ok: (capture: CaptureStatus) => boolean, timeoutMs = 30_000): Promise<CaptureStatus> {
    return until(
      what,
      () => this.capture().catch(() => null),
      (c) => c !== null && ok(c),
      { timeoutMs, pollMs: 100, describe: (c) => `${JSON.stringify(c)}\nagent log tail:\n${this.log().slice(-3_000)}` },
    ) as Promise<CaptureStatus>;
  }

  /** Opens agent.db read-only (the agent may be running, killed or stopped). */
  openDb(): AgentDbReader {
    return new AgentDbReader(this.dbFile);
  }

  /** The whole vendor feed from the relay. */
  async vendorFeed(): Promise<VendorEventJson[]> {
    if (!this.options.relay) throw new Error('no relay configured');
    return readWholeFeed(this.relayHttp, CAPTURE_FEED, PAIR_VENDOR_KEY);
  }

  /** Peak and current resident memory of the agent process, bytes (Linux /proc). */
  memory(): { hwmBytes: number; rssBytes: number } | null {
    const pid = this.agentPid;
    if (pid === undefined) return null;
    return processMemory(pid);
  }
}

/** VmHWM (peak resident set) and VmRSS of a process, bytes; null once it is gone. */
export function processMemory(pid: number): { hwmBytes: number; rssBytes: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { hwmBytes: kb('VmHWM'), rssBytes: kb('VmRSS') };
}

export interface JournalRow {
  seq: number;
  stream: string;
  key: string;
  op: 'upsert' | 'delete';
  tsMs: number;
  body: string;
  headers: Record<string, string>;
}

/** agent.db opened read-only from outside the agent; SQLite's WAL lets it read while the agent writes. */
export class AgentDbReader {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
  }

  close(): void {
    this.db.close();
  }

  /** The position the source saved with its last append (source_positions), or null. */
  savedPosition(source = CAPTURE_SOURCE): string | null {
    const row = this.db.prepare('SELECT position FROM source_positions WHERE source = ?').get(source) as { position: string } | undefined;
    return row?.position ?? null;
  }

  headSeq(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS head FROM journal').get() as { head: number }).head;
  }

  /** Journal rows of `stream` (all streams when omitted) after `afterSeq`, in order. */
  journal(stream?: string, afterSeq = 0): JournalRow[] {
    const rows = (
      stream === undefined
        ? this.db.prepare('SELECT seq, stream, key, op, ts_ms, body, headers FROM journal WHERE seq > ? ORDER BY seq').all(afterSeq)
        : this.db.prepare('SELECT seq, stream, key, op, ts_ms, body, headers FROM journal WHERE stream = ? AND seq > ? ORDER BY seq').all(stream, afterSeq)
    ) as { seq: number; stream: string; key: string; op: 'upsert' | 'delete'; ts_ms: number; body: Buffer; headers: string }[];
    return rows.map((r) => ({ seq: r.seq, stream: r.stream, key: r.key, op: r.op, tsMs: r.ts_ms, body: r.body.toString('utf8'), headers: JSON.parse(r.headers) as Record<string, string> }));
  }

  /** Journal rows of `stream` in one statement's snapshot: a consistent count while the agent commits. */
  journalCount(stream: string, where = '1=1'): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM journal WHERE stream = ? AND ${where}`).get(stream) as { n: number }).n;
  }

  /** The distinct keys of `stream`'s journal rows that match `where`. */
  distinctKeys(stream: string, where = '1=1'): number {
    return (this.db.prepare(`SELECT COUNT(DISTINCT key) AS n FROM journal WHERE stream = ? AND ${where}`).get(stream) as { n: number }).n;
  }

  /**
   * The local copy of `stream`: key → row (the body of the record's current version,
   * from the journal row it points at, or its own body for a record written before
   * the local copy pointed at the journal).
   */
  localCopy(stream: string): Map<string, Record<string, unknown>> {
    const rows = this.db
      .prepare('SELECT r.key, COALESCE(j.body, r.body) AS body FROM records r LEFT JOIN journal j ON j.seq = r.seq WHERE r.stream = ?')
      .all(stream) as { key: string; body: Buffer | null }[];
    const copy = new Map<string, Record<string, unknown>>();
    for (const r of rows) {
      if (r.body === null) throw new Error(`record ${stream}/${r.key} has no body: its journal row is gone`);
      copy.set(r.key, JSON.parse(r.body.toString('utf8')) as Record<string, unknown>);
    }
    return copy;
  }
}

/** A PostgreSQL LSN ("16/B374D848") as a bigint. */
export function lsnValue(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new Error(`not a PostgreSQL LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** The LSN in a postgres source's saved position (its JSON `lsn`, or a bare LSN); null when nothing is saved. */
export function savedLsn(position: string | null): bigint | null {
  if (position === null || position === '') return null;
  if (!position.startsWith('{')) return lsnValue(position);
  const json = JSON.parse(position) as { lsn?: string };
  if (typeof json.lsn !== 'string') throw new Error(`saved position without an lsn: ${position}`);
  return lsnValue(json.lsn);
}

/** The slot as the server has it now: what it holds as confirmed, whether a walsender holds it, and by which pid. */
export async function readSlot(server: ThrowawayPostgres, slot: string, database = 'postgres'): Promise<{ exists: boolean; confirmed: bigint | null; active: boolean; activePid: number | null; walStatus: string | null }> {
  const row = (
    await server.query<{ confirmed_flush_lsn: string | null; active: boolean; active_pid: number | null; wal_status: string | null }>(
      'SELECT confirmed_flush_lsn::text, active, active_pid, wal_status FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
      database,
    )
  ).rows[0];
  if (!row) return { exists: false, confirmed: null, active: false, activePid: null, walStatus: null };
  return { exists: true, confirmed: row.confirmed_flush_lsn === null ? null : lsnValue(row.confirmed_flush_lsn), active: row.active, activePid: row.active_pid, walStatus: row.wal_status };
}

/** The slot name the source uses by default (postgresSlotNames: wardline_<source>). */
export const CAPTURE_SLOT = `wardline_${CAPTURE_SOURCE}`;

/** The journal's events of `stream` as the audit reads them. */
export function journalChanges(db: AgentDbReader, stream: string): { seq: number; key: string; op: 'upsert' | 'delete'; row: Record<string, unknown>; headers: Record<string, string>; tsMs: number }[] {
  return db.journal(stream).map((r) => ({ seq: r.seq, key: r.key, op: r.op, row: JSON.parse(r.body) as Record<string, unknown>, headers: r.headers, tsMs: r.tsMs }));
}
