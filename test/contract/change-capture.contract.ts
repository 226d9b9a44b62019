// The change-capture contract: what every database source (postgres, mysql,
// sql-poll) keeps, run unchanged against each with a real server of its kind.
//  1. Rows that exist before the first start are copied by the snapshot.
//  2. Committed inserts, updates and deletes reach the journal in commit order, as
//     events of stream `<source>.<table>`, key the primary key, body the row as JSON
//     (exact numerics as strings), headers with table, position and schema version.
//  3. A source transaction is one append (where the source can see transactions).
//  4. The position is saved with the events: a new source on the same journal
//     resumes after it, missing nothing written meanwhile and doubling nothing.
//  5. An admission refusal pauses capture (nothing appended, state `paused`), and
//     everything arrives once admitted again.
//  6. A table without a primary key stops that source with a reason naming the table.
//  7. status() says kind, state and position; it never throws.
import { pino } from 'pino';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AdmissionCheck, CaptureSourceParts, Source } from '../../agent/sources/index.js';
import {
  Journal,
  LocalCopy,
  openAgentDatabase,
  type AppendRequest,
  type AppendResult,
  type CaptureWriter,
  type StagedAppend,
  type SqliteDatabase,
} from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

/** A row of the contract's tables: (id integer primary key, name text, amount decimal(10,2)). */
export interface ContractRow {
  id: number;
  name: string;
  /** Exact decimal as text, e.g. "12.50". */
  amount: string;
}

/** A database of the harness's kind and the means to write to it and to build a source on it. */
export interface CaptureHarness {
  /** Multi-row transactions are visible to the source (log readers); false for polling. */
  transactional: boolean;
  /**
   * Creates `table` as (id integer primary key, name varchar(100), amount decimal(10,2))
   * plus whatever the kind needs (a version column and its trigger for polling),
   * and adds it to what the source captures (publication…).
   */
  createTable(table: string): Promise<void>;
  /** Creates `table` (id integer, name varchar(100)) with no primary key. */
  createTableWithoutKey(table: string): Promise<void>;
  /** Inserts the rows in one transaction. */
  insert(table: string, rows: readonly ContractRow[]): Promise<void>;
  /** Sets name (and amount) of the rows with these ids, in one transaction. */
  update(table: string, ids: readonly number[], name: string): Promise<void>;
  /** Deletes the rows with these ids in one transaction. */
  remove(table: string, ids: readonly number[]): Promise<void>;
  /** A source named `name` capturing `tables`, handed `parts`; not started. */
  source(name: string, tables: readonly string[], parts: CaptureSourceParts): Source;
  /** Drops what the harness created for this test (tables, slots…) so tests do not see each other. */
  reset(): Promise<void>;
}

/** Wraps the journal to count appends, as the source sees it. */
class CountingWriter implements CaptureWriter {
  readonly appends: AppendRequest[] = [];
  constructor(private readonly journal: Journal) {}
  append(request: AppendRequest): Promise<AppendResult> {
    if (request.events.length > 0) this.appends.push(request);
    return this.journal.append(request);
  }
  savedPosition(source: string): string | undefined {
    return this.journal.savedPosition(source);
  }
  stage(source: string): StagedAppend {
    return this.journal.stage(source);
  }
}

interface JournalRow {
  seq: number;
  stream: string;
  key: string;
  op: string;
  body: string;
  headers: string;
}

const log = pino({ level: 'silent' });

export function describeChangeCaptureContract(label: string, makeHarness: () => Promise<CaptureHarness>, close: () => Promise<void>): void {
  describe(`change-capture contract: ${label}`, () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    let harness: CaptureHarness | undefined;
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await harness?.reset();
    });
    afterAll(close);

    async function setup(): Promise<{ db: SqliteDatabase; journal: Journal; writer: CountingWriter; localCopy: LocalCopy; h: CaptureHarness }> {
      harness ??= await makeHarness();
      const dir = makeTempDir('wardline-capture-contract-');
      const db = openAgentDatabase(join(dir.path, 'agent.db'));
      cleanups.push(() => dir.remove());
      cleanups.push(() => void db.close());
      const journal = new Journal(db);
      return { db, journal, writer: new CountingWriter(journal), localCopy: new LocalCopy(db), h: harness };
    }

    function started(source: Source): Source {
      cleanups.push(() => source.stop());
      return source;
    }

    function rows(db: SqliteDatabase, stream: string): JournalRow[] {
      return db.prepare('SELECT seq, stream, key, op, body, headers FROM journal WHERE stream = ? ORDER BY seq').all(stream) as JournalRow[];
    }

    const row = (id: number, name = `patient-${id}`, amount = `${id}.50`): ContractRow => ({ id, name, amount });

    it('copies the rows that exist before the first start, then streams what follows', async () => {
      const { db, writer, localCopy, h } = await setup();
      await h.createTable('cc_snapshot');
      await h.insert('cc_snapshot', [row(1), row(2), row(3)]);
      const source = started(h.source('cc1', ['cc_snapshot'], { writer, localCopy, log }));
      await source.start();
      const stream = 'cc1.cc_snapshot';
      await until('the snapshot rows', () => rows(db, stream).length, (n) => n >= 3, { timeoutMs: 30_000 });
      const snap = rows(db, stream);
      expect(snap.map((r) => r.key)).toEqual(['1', '2', '3']);
      expect(JSON.parse(snap[0]!.body)).toMatchObject({ id: 1, name: 'patient-1', amount: '1.50' });
      expect(JSON.parse(snap[0]!.headers)).toMatchObject({ snapshot: 'true' });
      await h.insert('cc_snapshot', [row(4)]);
      await until('the streamed row', () => rows(db, stream).length, (n) => n >= 4, { timeoutMs: 30_000 });
      expect(rows(db, stream).map((r) => r.key)).toEqual(['1', '2', '3', '4']);
    });

    it('journals inserts, updates and deletes in commit order, with table, position and schema version', async () => {
      const { db, writer, localCopy, h } = await setup();
      await h.createTable('cc_order');
      const source = started(h.source('cc2', ['cc_order'], { writer, localCopy, log }));
      await source.start();
      await until('streaming', () => source.status().state, (s) => s === 'streaming', { timeoutMs: 30_000 });
      await h.insert('cc_order', [row(10)]);
      await h.update('cc_order', [10], 'renamed');
      await h.remove('cc_order', [10]);
      await h.insert('cc_order', [row(11)]);
      const stream = 'cc2.cc_order';
      // A poller may see the insert, update and delete of key 10 in one read as fewer events; the last insert comes last either way.
      await until('the changes', () => rows(db, stream), (r) => (h.transactional ? r.length >= 4 : r.at(-1)?.key === '11'), { timeoutMs: 30_000 });
      const got = rows(db, stream);
      if (h.transactional) {
        expect(got.map((r) => `${r.op}:${r.key}`)).toEqual(['upsert:10', 'upsert:10', 'delete:10', 'upsert:11']);
        expect(JSON.parse(got[1]!.body)).toMatchObject({ id: 10, name: 'renamed' });
      } else {
        // Polling sees each row's latest version at each read: the delete and the last insert are never lost.
        expect(got.filter((r) => r.key === '10').at(-1)!.op).toBe('delete');
        expect(got.at(-1)).toMatchObject({ op: 'upsert', key: '11' });
      }
      const headers = JSON.parse(got.at(-1)!.headers) as Record<string, string>;
      expect(headers.table).toMatch(/cc_order$/);
      expect(headers.position).toBeTruthy();
      expect(Number(headers.schemaVersion)).toBeGreaterThanOrEqual(1);
      expect(source.status()).toMatchObject({ kind: source.kind, name: 'cc2' });
      expect(source.status().capture?.position).toBeTruthy();
    });

    it('appends a multi-row source transaction as one append', async () => {
      const { writer, localCopy, h } = await setup();
      if (!h.transactional) return;
      await h.createTable('cc_tx');
      const source = started(h.source('cc3', ['cc_tx'], { writer, localCopy, log }));
      await source.start();
      await until('streaming', () => source.status().state, (s) => s === 'streaming', { timeoutMs: 30_000 });
      await h.insert('cc_tx', [row(1), row(2), row(3), row(4), row(5)]);
      await until('the transaction', () => writer.appends.filter((a) => a.events.some((e) => e.stream === 'cc3.cc_tx')), (a) => a.length > 0, { timeoutMs: 30_000 });
      const appends = writer.appends.filter((a) => a.events.some((e) => e.stream === 'cc3.cc_tx'));
      expect(appends).toHaveLength(1);
      expect(appends[0]!.events.map((e) => e.key)).toEqual(['1', '2', '3', '4', '5']);
      expect(appends[0]!.position).toBeTruthy();
    });

    it('resumes after its saved position: nothing written while stopped is missed, nothing is doubled', async () => {
      const { db, journal, writer, localCopy, h } = await setup();
      await h.createTable('cc_resume');
      await h.insert('cc_resume', [row(1), row(2)]);
      const first = h.source('cc4', ['cc_resume'], { writer, localCopy, log });
      await first.start();
      const stream = 'cc4.cc_resume';
      await until('the snapshot', () => rows(db, stream).length, (n) => n >= 2, { timeoutMs: 30_000 });
      await h.insert('cc_resume', [row(3)]);
      await until('the third row', () => rows(db, stream).length, (n) => n >= 3, { timeoutMs: 30_000 });
      await first.stop();
      expect(journal.savedPosition('cc4')).toBeTruthy();

      await h.insert('cc_resume', [row(4), row(5)]);
      await h.update('cc_resume', [1], 'while-stopped');
      const second = started(h.source('cc4', ['cc_resume'], { writer, localCopy, log }));
      await second.start();
      await until('the rows written while stopped', () => localCopy.get(stream, '5'), (r) => r !== undefined, { timeoutMs: 30_000 });
      await until('the update written while stopped', () => JSON.parse(localCopy.get(stream, '1')?.body.toString() ?? '{}').name, (n) => n === 'while-stopped', { timeoutMs: 30_000 });
      const got = rows(db, stream);
      // Each (key, body) once: a resent change would repeat one.
      const versions = got.map((r) => `${r.key}|${r.op}|${r.body}`);
      expect(new Set(versions).size).toBe(versions.length);
      for (const id of [1, 2, 3, 4, 5]) expect(localCopy.get(stream, String(id))).toBeDefined();
    });

    it('pauses while admission refuses, appending nothing, and catches up once admitted', async () => {
      const { db, writer, localCopy, h } = await setup();
      await h.createTable('cc_admit');
      let refusal: string | undefined;
      const admission: AdmissionCheck = () => refusal;
      const source = started(h.source('cc5', ['cc_admit'], { writer, localCopy, log, admission }));
      await source.start();
      await until('streaming', () => source.status().state, (s) => s === 'streaming', { timeoutMs: 30_000 });
      refusal = 'the disk is critically full (98%)';
      await h.insert('cc_admit', [row(1), row(2)]);
      await until('paused', () => source.status(), (s) => s.state === 'paused', { timeoutMs: 30_000 });
      expect(source.status().capture?.reason).toContain('the disk is critically full');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const stream = 'cc5.cc_admit';
      expect(rows(db, stream)).toHaveLength(0);
      refusal = undefined;
      await until('the rows once admitted', () => rows(db, stream).length, (n) => n >= 2, { timeoutMs: 30_000 });
      expect(rows(db, stream).map((r) => r.key)).toEqual(['1', '2']);
    });

    it('stops with a reason naming a table that has no primary key, and throws from neither start nor status', async () => {
      const { writer, localCopy, h } = await setup();
      await h.createTableWithoutKey('cc_nokey');
      const source = started(h.source('cc6', ['cc_nokey'], { writer, localCopy, log }));
      await source.start();
      const status = await until('stopped', () => source.status(), (s) => s.state === 'stopped', { timeoutMs: 30_000 });
      expect(status.capture?.reason).toContain('cc_nokey');
      expect(status.capture?.reason).toMatch(/primary key/i);
    });
  });
}
