// Staged appends: a transaction too large for memory reaches the journal, the local
// copy and the source position whole at commit, and nothing of it before.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, LocalCopy, openAgentDatabase, type EventInput } from '../../agent/store/index.js';
import { TransactionBuffer } from '../../agent/sources/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const event = (key: string, op: 'upsert' | 'delete' = 'upsert', body = `{"id":"${key}"}`): EventInput => ({
  stream: 'his.patients',
  key,
  op,
  contentType: 'json',
  body: Buffer.from(body),
  headers: { table: 'public.patients' },
});

describe('staged appends', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });
  function open(dir = makeTempDir('wardline-staged-')): { dir: typeof dir; journal: Journal; localCopy: LocalCopy; close(): void } {
    const db = openAgentDatabase(join(dir.path, 'agent.db'));
    cleanups.push(() => dir.remove());
    let closed = false;
    const close = (): void => {
      if (!closed) db.close();
      closed = true;
    };
    cleanups.push(close);
    return { dir, journal: new Journal(db), localCopy: new LocalCopy(db), close };
  }

  it('shows nothing until commit, then every event in order with the local copy, the position and the head', async () => {
    const { journal, localCopy } = open();
    await journal.append({ source: 'his', events: [event('0'), event('9')] });
    const heads: number[] = [];
    journal.onCommit((head) => heads.push(head));
    const staged = journal.stage('his');
    staged.add([event('1'), event('2')]);
    staged.add([event('1', 'upsert', '{"id":"1","v":2}'), event('9', 'delete')]);
    expect(journal.head).toBe(2);
    expect(localCopy.get('his.patients', '1')).toBeUndefined();
    expect(journal.readRange(['his.patients'], 2, { maxEvents: 100, maxBytes: 1e6, maxScan: 100 })).toBeUndefined();

    const commit = await staged.commit('0/16B3748');
    expect(commit).toEqual({ firstSeq: 3, lastSeq: 6, events: 4 });
    expect(journal.head).toBe(6);
    expect(heads).toEqual([6]);
    const range = journal.readRange(['his.patients'], 2, { maxEvents: 100, maxBytes: 1e6, maxScan: 100 })!;
    expect(range.events.map((e) => `${e.seq}:${e.op}:${e.key}`)).toEqual(['3:upsert:1', '4:upsert:2', '5:upsert:1', '6:delete:9']);
    expect(range.events[0]!.source).toBe('his');
    expect(localCopy.get('his.patients', '1')?.body.toString()).toBe('{"id":"1","v":2}');
    expect(localCopy.get('his.patients', '1')?.seq).toBe(5);
    expect(localCopy.get('his.patients', '9')).toBeUndefined();
    expect(localCopy.get('his.patients', '0')).toBeDefined();
    expect(journal.savedPosition('his')).toBe('0/16B3748');
    expect(journal.appendedTotals(['his.patients']).events).toBe(6);
  });

  it('discards what a crash left staged: a new journal on the file holds none of it', async () => {
    const first = open();
    const staged = first.journal.stage('his');
    staged.add([event('1'), event('2')]);
    first.close();
    const again = open(first.dir);
    expect(again.journal.head).toBe(0);
    const staged2 = again.journal.stage('his');
    staged2.add([event('3')]);
    expect(await staged2.commit('p2')).toEqual({ firstSeq: 1, lastSeq: 1, events: 1 });
    expect(again.journal.readRange(['his.patients'], 0, { maxEvents: 10, maxBytes: 1e6, maxScan: 10 })!.events.map((e) => e.key)).toEqual(['3']);
  });

  it('the transaction buffer holds a small transaction in memory and stages a large one, one append either way', async () => {
    const { journal, localCopy } = open();
    const small = new TransactionBuffer(journal, 'his', 3);
    small.add(event('1'));
    small.add(event('2'));
    expect(small.isStaged).toBe(false);
    expect(await small.commit('p1')).toEqual({ firstSeq: 1, lastSeq: 2, events: 2 });
    const large = new TransactionBuffer(journal, 'his', 3);
    for (let i = 10; i < 20; i++) large.add(event(String(i)));
    expect(large.isStaged).toBe(true);
    expect(large.events).toBe(10);
    expect(await large.commit('p2')).toEqual({ firstSeq: 3, lastSeq: 12, events: 10 });
    expect(localCopy.get('his.patients', '19')?.seq).toBe(12);
    expect(journal.savedPosition('his')).toBe('p2');
    // An empty transaction still moves the position (idle tables advance it).
    expect(await new TransactionBuffer(journal, 'his', 3).commit('p3')).toEqual({ firstSeq: null, lastSeq: null, events: 0 });
    expect(journal.savedPosition('his')).toBe('p3');
  });
});
