// The Source contract (agent/sources/source.ts), run against every kind of source
// over its real wire: a positive answer only once the input is durable, a
// refusal when admission says no, and a status whose counts move.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdmissionCheck, Source, SourceParts } from '../../agent/sources/index.js';
import { Journal, openAgentDatabase, type AppendRequest, type AppendResult, type JournalWriter, type SqliteDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';

/** What a sender got back: positive (AA, 200) or not, the wire's code, and the text that came with it. */
export interface SourceAnswer {
  accepted: boolean;
  /** "AA", "AR", "200", "507"… */
  code: string;
  text: string;
}

/** A started source and a real client for it. */
export interface SourceHarness {
  source: Source;
  /** Sends one input whose journal key is `key` and resolves with the answer. */
  send(key: string): Promise<SourceAnswer>;
  /** Stops the client and the source (and whatever carries it). */
  close(): Promise<void>;
}

/** Builds the source with the parts it is handed, starts it, and connects a client. */
export type SourceFactory = (parts: SourceParts) => Promise<SourceHarness>;

/** A writer that holds every append until released, to see when the answer goes out. */
class GatedWriter implements JournalWriter {
  private readonly gates: (() => void)[] = [];
  held = 0;
  constructor(private readonly inner: JournalWriter) {}
  async append(request: AppendRequest): Promise<AppendResult> {
    this.held++;
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return this.inner.append(request);
  }
  release(): void {
    for (const open of this.gates.splice(0)) open();
  }
}

const NO_ANSWER_YET = Symbol('no answer yet');

export function describeSourceContract(label: string, factory: SourceFactory): void {
  describe(`Source contract: ${label}`, () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    function journalFile(): { file: string; db: SqliteDatabase; journal: Journal } {
      const dir = makeTempDir('wardline-source-contract-');
      const file = join(dir.path, 'agent.db');
      const db = openAgentDatabase(file);
      cleanups.push(() => dir.remove());
      cleanups.push(() => void db.close());
      return { file, db, journal: new Journal(db) };
    }

    /** What another connection to the file sees: only what is committed. */
    function committedKeys(file: string): string[] {
      const reader = new Database(file, { readonly: true });
      try {
        return (reader.prepare('SELECT key FROM journal ORDER BY seq').all() as { key: string }[]).map((row) => row.key);
      } finally {
        reader.close();
      }
    }

    async function harness(parts: SourceParts): Promise<SourceHarness> {
      const started = await factory(parts);
      cleanups.push(() => started.close());
      return started;
    }

    it('answers positively once the input is in the journal file, as another connection sees it', async () => {
      const { file, journal } = journalFile();
      const { send } = await harness({ writer: journal });
      const answer = await send('K-DURABLE-1');
      expect(answer.accepted).toBe(true);
      expect(committedKeys(file)).toEqual(['K-DURABLE-1']);
    });

    it('does not answer while the append is pending, and answers once it resolves', async () => {
      const { file, journal } = journalFile();
      const writer = new GatedWriter(journal);
      const { send } = await harness({ writer });
      const answer = send('K-GATED-1');
      const early = await Promise.race([answer, new Promise((resolve) => setTimeout(() => resolve(NO_ANSWER_YET), 300))]);
      expect(early).toBe(NO_ANSWER_YET);
      expect(writer.held).toBe(1);
      expect(committedKeys(file)).toEqual([]);
      writer.release();
      expect((await answer).accepted).toBe(true);
      expect(committedKeys(file)).toEqual(['K-GATED-1']);
    });

    it('never answers positively when the writer throws', async () => {
      const { file } = journalFile();
      const failing: JournalWriter = { append: () => Promise.reject(Object.assign(new Error('SQLITE_IOERR: disk I/O error'), { code: 'SQLITE_IOERR' })) };
      const { source, send } = await harness({ writer: failing });
      const answer = await send('K-FAIL-1');
      expect(answer.accepted).toBe(false);
      expect(committedKeys(file)).toEqual([]);
      expect(source.status()).toMatchObject({ acknowledged: 0, rejected: 1 });
    });

    it('refuses with the reason when admission says no, appending nothing, and asks with its own name', async () => {
      const { file, journal } = journalFile();
      const asked: string[] = [];
      let refusal: string | undefined = 'the disk is critically full (98%)';
      const admission: AdmissionCheck = (name) => {
        asked.push(name);
        return refusal;
      };
      const { source, send } = await harness({ writer: journal, admission });
      const refused = await send('K-ADMIT-1');
      expect(refused.accepted).toBe(false);
      expect(refused.text).toContain('the disk is critically full (98%)');
      expect(committedKeys(file)).toEqual([]);
      expect(asked).toEqual([source.name]);

      refusal = undefined;
      expect((await send('K-ADMIT-1')).accepted).toBe(true);
      expect(committedKeys(file)).toEqual(['K-ADMIT-1']);
    });

    it('reports its status: name and kind, counts that move, the last rejection', async () => {
      const { journal } = journalFile();
      let refusal: string | undefined;
      const { source, send } = await harness({ writer: journal, admission: () => refusal });
      const before = source.status();
      expect(before).toMatchObject({ name: source.name, kind: source.kind, state: 'listening', received: 0, acknowledged: 0, rejected: 0, lastRejection: null });
      await send('K-STATUS-1');
      refusal = 'not now';
      await send('K-STATUS-2');
      const after = source.status();
      expect(after).toMatchObject({ received: 2, acknowledged: 1, rejected: 1, lastRejection: { atMs: expect.any(Number), reason: 'not now' } });
      expect(after.lastMessageAtMs).toEqual(expect.any(Number));
    });

    it('stops idempotently', async () => {
      const { journal } = journalFile();
      const { source } = await harness({ writer: journal });
      await source.stop();
      await source.stop();
      expect(() => source.status()).not.toThrow();
    });
  });
}
