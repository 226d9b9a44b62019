// The restore drill (issue 15, "Done"): an agent with 200,000 journaled events
// replicates them to a real relay on a backup feed (every stream, encrypted) and
// on an ordinary feed; the agent is stopped and its data directory deleted; a new
// agent is restored with the hospital's keys by `wardline agent restore
// --from-relay` (the relay's signed export fetched over the agent's link). Its journal, local copy, dedupe keys
// and source positions equal the old agent's (by digest), it starts, takes new
// events with the next seq, replicates them on both feeds, and the relay's feeds
// hold every seq once: no gap, no duplicate. Its egress ledger continues the head
// the relay held and verifies from the restore base.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/main.js';
import { loadAgentConfig } from '../../agent/config.js';
import { relayExportFetcher, RestoreDataDirInUseError, type ExportFetcher, type RestoreSummary } from '../../agent/exit/index.js';
import { agentRestoreCommand } from '../../cli/agent-restore-command.js';
import { rotateKey } from '../../agent/policy/index.js';
import { Journal, openAgentDatabase, type EventInput } from '../../agent/store/index.js';
import { parseRelayConfig, startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { relayDatabaseFile, scanFeed, SqliteFeedStore } from '../../cloud-relay/store/index.js';
import type { ExportManifest } from '../../protocol/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const HOSPITAL = 'drill-hospital';
const SECRET = 'drill-hospital-secret-0001';
const EVENTS = 200_000;
const PER_APPEND = 2_000;
const SINGLE_APPENDS = 200;
const AFTER_RESTORE = 500;
const quiet = pino({ level: 'silent' });

/** SHA-256 over the rows of a query, each column length-prefixed, in the query's order. */
function digestOf(file: string, sql: string): { digest: string; rows: number } {
  const db = new Database(file, { readonly: true });
  try {
    const hash = createHash('sha256');
    let rows = 0;
    for (const row of db.prepare(sql).raw().iterate() as Iterable<unknown[]>) {
      rows++;
      for (const value of row) {
        const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value === null ? '\u0000null' : String(value), 'utf8');
        const length = Buffer.alloc(4);
        length.writeUInt32BE(bytes.length);
        hash.update(length).update(bytes);
      }
    }
    return { digest: hash.digest('hex'), rows };
  } finally {
    db.close();
  }
}

/** What must survive the restore, each as a digest in key order. */
function digests(dbFile: string) {
  return {
    // The local copy: every (stream, key)'s current version, read through the journal row it points at.
    localCopy: digestOf(
      dbFile,
      `SELECT r.stream, r.key, r.seq, j.op, j.ts_ms, j.source, j.content_type, j.body, j.headers
       FROM records r JOIN journal j ON j.seq = r.seq ORDER BY r.stream, r.key`,
    ),
    journal: digestOf(dbFile, 'SELECT seq, stream, key, op, ts_ms, source, content_type, body, headers FROM journal ORDER BY seq'),
    dedupe: digestOf(dbFile, 'SELECT scope, id, digest, first_seq, event_count, received_at_ms FROM dedupe_keys ORDER BY scope, id, digest'),
    positions: digestOf(dbFile, 'SELECT source, position, updated_at_ms FROM source_positions ORDER BY source'),
    transactions: digestOf(dbFile, 'SELECT first_seq, last_seq FROM journal_transactions ORDER BY first_seq'),
  };
}

function event(n: number): EventInput {
  const key = `P${n % 60_000}`;
  if (n % 4 === 0) {
    return {
      stream: 'adt',
      key,
      op: 'upsert' as const,
      contentType: 'hl7v2',
      body: Buffer.from(`MSH|^~\\&|HIS|H1|||20261203||ADT^A08|M${n}|P|2.5\rPID|1||${key}||王^${n}||19800101|M\r`, 'utf8'),
      headers: { controlId: `M${n}`, messageType: 'ADT^A08' },
    };
  }
  return {
    stream: 'his.patient',
    key,
    op: n % 97 === 0 ? ('delete' as const) : ('upsert' as const),
    contentType: 'json',
    body: Buffer.from(n % 97 === 0 ? '' : JSON.stringify({ id: key, n, name: '张三', ward: `W${n % 40}` }), 'utf8'),
    headers: {},
  };
}

describe('restore drill', () => {
  const dir = makeTempDir('wardline-restore-drill-');
  const relayData = join(dir.path, 'relay-data');
  const agentData = join(dir.path, 'agent-data');
  let relay: RelayHandle | undefined;
  const stops: (() => Promise<void>)[] = [];

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await relay?.stop();
    dir.remove();
  });

  const relayConfig = () =>
    parseRelayConfig({
      relayId: 'relay-drill',
      dataDir: relayData,
      allowPlaintext: true,
      grpc: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      hospitals: [{ id: HOSPITAL, secret: SECRET }],
      vendors: [{ name: 'vendor', key: 'drill-vendor-key-00000001', grants: [{ hospital: HOSPITAL, feeds: ['backup', 'clinical'] }] }],
      log: { level: 'silent' },
    });

  const writeAgentYaml = (name: string, relayPort: number): string => {
    const file = join(dir.path, name);
    writeFileSync(
      file,
      `hospital: { id: ${HOSPITAL} }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0" }
keys: { dir: ./keys }
relays: [{ name: relay-drill, address: "127.0.0.1:${relayPort}", secret: "${SECRET}", allowPlaintext: true }]
feeds:
  - { name: backup, relay: relay-drill, backup: true }
  - { name: clinical, relay: relay-drill, streams: [adt] }
replication: { backoff: { initialMs: 100, maxMs: 500 }, emptyBatchIntervalMs: 200 }
`,
    );
    return file;
  };

  const highWater = async (feed: string): Promise<number> => {
    const status = await relay!.status();
    return status.hospitals.find((h) => h.id === HOSPITAL)?.feeds.find((f) => f.feed === feed)?.highWaterSeq ?? 0;
  };

  it('rebuilds a deleted agent with 200,000 events from the relay backup feed; it continues with the next seq, with no gap and no duplicate at the relay', { timeout: 180_000 }, async () => {
    rotateKey({ dir: join(dir.path, 'keys'), kind: 'encryption', retainRetiredMs: 86_400_000 });
    relay = await startRelay(relayConfig(), { logger: quiet });

    // The old agent's journal: large appends (a change-capture source's transactions, each with its
    // position and an idempotency key) and single HL7-like messages with their dedupe keys.
    const db = openAgentDatabase(join(agentData, 'agent.db'));
    const journal = new Journal(db);
    let n = 0;
    let append = 0;
    while (n < EVENTS - SINGLE_APPENDS) {
      const events = Array.from({ length: PER_APPEND }, () => event(++n));
      await journal.append({ source: 'his-cdc', events, dedupe: { scope: 'his-cdc', id: `tx-${append}` }, position: `lsn/${++append}` });
    }
    while (n < EVENTS) {
      await journal.append({ source: 'lis-mllp', events: [event(++n)], dedupe: { scope: 'LIS|H1', id: `M${n}`, digest: `d${n}` } });
    }
    expect(journal.head).toBe(EVENTS);
    db.close();

    const agent = await startAgent(writeAgentYaml('agent.yaml', relay.grpcPort), { logger: quiet });
    stops.push(() => agent.stop());
    const replicateStarted = performance.now();
    await until('both feeds at the relay through the journal head', async () => [await highWater('backup'), await highWater('clinical')], (hw) => hw[0] === EVENTS && hw[1] === EVENTS, { timeoutMs: 120_000, pollMs: 250 });
    const replicateMs = performance.now() - replicateStarted;
    const oldLedgerHead = agent.ledger.head()!;
    await agent.stop();
    stops.pop();

    const before = digests(join(agentData, 'agent.db'));
    expect(before.journal.rows).toBe(EVENTS);
    rmSync(agentData, { recursive: true, force: true });

    const config = loadAgentConfig(writeAgentYaml('agent-restored.yaml', relay.grpcPort));

    // A data directory already in use is refused, and left as it was.
    mkdirSync(agentData, { recursive: true });
    writeFileSync(join(agentData, 'agent.db'), 'an agent lives here');
    await expect(agentRestoreCommand({ config: config.file, fromRelay: true }, () => undefined)).rejects.toThrow(RestoreDataDirInUseError);
    expect(readFileSync(join(agentData, 'agent.db'), 'utf8')).toBe('an agent lives here');
    rmSync(agentData, { recursive: true, force: true });

    // `wardline agent restore --from-relay`: the relay exports the hospital over the agent's link (Export RPC,
    // signed with the relay key), the agent verifies it and rebuilds. The fetch is timed, and its manifest and
    // backup feed file looked at, on the way.
    let fetchMs = 0;
    let manifest: ExportManifest | undefined;
    const fetchOverTheLink = relayExportFetcher(config);
    const fetchAndLook: ExportFetcher = async (request) => {
      const started = performance.now();
      const verified = await fetchOverTheLink(request);
      fetchMs = performance.now() - started;
      manifest = JSON.parse(readFileSync(join(request.outDir, 'manifest.json'), 'utf8')) as ExportManifest;
      // The relay holds only ciphertext: no body text of the journal is in the backup feed's file.
      const backupFile = readFileSync(join(request.outDir, 'feeds', 'backup.ndjson'), 'utf8');
      expect(backupFile).not.toContain('张三');
      expect(backupFile).not.toContain('ADT^A08');
      expect(Buffer.from(backupFile.split('\n')[0]!.match(/"bodyBase64":"([^"]+)"/)![1]!, 'base64').toString('utf8')).toMatch(/^enc:v1:/);
      return verified;
    };
    const printed: string[] = [];
    const restoreStarted = performance.now();
    expect(await agentRestoreCommand({ config: config.file, fromRelay: true, json: true }, (t) => printed.push(t), fetchAndLook, () => undefined)).toBe(0);
    const restoreMs = performance.now() - restoreStarted;
    const summary = JSON.parse(printed.join('')) as RestoreSummary;
    expect(Math.max(...manifest!.extension.wardline.ledgerHeads.map((h) => h.ledgerIndex))).toBe(oldLedgerHead.index);
    expect(summary).toMatchObject({ events: EVENTS, firstSeq: 1, lastSeq: EVENTS, nextSeq: EVENTS + 1, missingSeqs: 0 });
    expect(summary.feedAcks).toEqual([
      { feed: 'backup', ackedSeq: EVENTS },
      { feed: 'clinical', ackedSeq: EVENTS },
    ]);
    expect(summary.ledgerBase).toEqual({ index: oldLedgerHead.index, hash: oldLedgerHead.hash });
    expect(summary.ledgerHead.index).toBe(oldLedgerHead.index + 1);
    expect(readdirSync(agentData)).toEqual(['agent.db']);
    expect(readdirSync(dir.path).filter((name) => name.startsWith('.wardline-restore-'))).toEqual([]);

    const after = digests(join(agentData, 'agent.db'));
    expect(after).toEqual(before);

    console.log(
      `restore drill: ${EVENTS} events replicated on 2 feeds in ${(replicateMs / 1000).toFixed(1)} s; ` +
        `restore --from-relay ${(restoreMs / 1000).toFixed(1)} s (export fetched and verified over the link ${(fetchMs / 1000).toFixed(1)} s, ` +
        `rebuild ${(summary.rebuildMs / 1000).toFixed(1)} s): ` +
        `${Math.round(EVENTS / (restoreMs / 1000))} events/s end to end, ${Math.round(EVENTS / (summary.rebuildMs / 1000))} events/s rebuilding`,
    );

    // The restored agent starts, resumes where the relay stands, and journals on with the next seq.
    const restored = await startAgent(config, { logger: quiet });
    stops.push(() => restored.stop());
    const verification = restored.ledger.verify();
    expect(verification.ok).toBe(true);
    expect(verification.restoreBase).toEqual({ index: oldLedgerHead.index, hash: oldLedgerHead.hash });
    const ingest = async (stream: string, rows: object[]) => {
      const response = await fetch(`http://127.0.0.1:${restored.httpPort}/v1/ingest/${stream}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rows) });
      expect(response.status).toBe(200);
      return ((await response.json()) as { seqs: number[] }).seqs;
    };
    const seqs = await ingest('adt', Array.from({ length: AFTER_RESTORE }, (_, i) => ({ key: `NEW-${i}`, note: 'after restore' })));
    expect(seqs[0]).toBe(EVENTS + 1);
    expect(seqs[AFTER_RESTORE - 1]).toBe(EVENTS + AFTER_RESTORE);
    const head = EVENTS + AFTER_RESTORE;
    await until('both feeds at the relay through the new head', async () => [await highWater('backup'), await highWater('clinical')], (hw) => hw[0] === head && hw[1] === head, { timeoutMs: 60_000, pollMs: 250 });
    expect(restored.ledger.verify().ok).toBe(true);
    await restored.stop();
    stops.pop();

    // At the relay: the backup feed holds every seq 1..head once; the clinical feed every adt seq once.
    await relay.stop();
    relay = undefined;
    const check = SqliteFeedStore.open({ file: relayDatabaseFile(relayData) });
    try {
      for (const [feed, expected] of [
        ['backup', Array.from({ length: head }, (_, i) => i + 1)],
        ['clinical', [...Array.from({ length: EVENTS / 4 }, (_, i) => (i + 1) * 4), ...seqs]],
      ] as const) {
        const held: number[] = [];
        await scanFeed(check, HOSPITAL, feed, (e) => {
          held.push(e.seq);
        });
        expect(held.length, `${feed}: events held`).toBe(expected.length);
        expect(held, `${feed}: seqs, each once, in order`).toEqual(expected);
      }
    } finally {
      await check.close();
    }
  });
});
