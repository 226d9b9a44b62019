// The move from relay.db to PostgreSQL as an operator does it, with the real CLI:
// a relay on SQLite takes an agent's HL7 feed; the relay is stopped (the agent
// keeps running and journaling); `wardline relay migrate-store` copies relay.db
// and prints the same digest for both sides; relay.yaml gets `store: postgres`
// and the relay starts again with the same dataDir (its signing key stays
// there). The agent resumes from the mark the relay now reads from PostgreSQL:
// no batch is resent (0 duplicate or overlapping batches in /metrics) and the
// vendor reads every message exactly once, in order.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hl7Corpus, MllpSender } from '../../simulator/index.js';
import { readWholeFeed } from '../support/read-feed.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_FEED, PAIR_OPERATOR_HEADERS, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';
import { CLI_PATH } from '../support/wardline-process.js';

const BEFORE = 300;
const AFTER = 200;

describe('moving a running relay from relay.db to PostgreSQL', () => {
  const dir = makeTempDir('wardline-migrate-e2e-');
  let pair: WardlinePair;
  let target: RelayTestDatabase;

  beforeAll(async () => {
    target = await createRelayTestDatabase('migrate_e2e');
    pair = await WardlinePair.create(dir.path, { hospital: 'h1' });
    await pair.startRelay();
    await pair.startAgent();
  }, 60_000);
  afterAll(async () => {
    await pair?.stop();
    await target?.drop();
    dir.remove();
  });

  it('the agent resumes on PostgreSQL from the copied mark: nothing resent, every message once', async () => {
    const corpus = new Hl7Corpus({ seed: 'migrate-store', patients: 200 });
    const sender = new MllpSender({ host: '127.0.0.1', port: pair.ports.mllp, ackTimeoutMs: 5000, reconnectDelayMs: 100 });
    const controlIds: string[] = [];
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const message = corpus.next();
        const ack = await sender.send(message.bytes, message.controlId);
        expect(ack.code).toBe('AA');
        controlIds.push(message.controlId);
      }
    };
    await send(BEFORE);
    const drained = await pair.waitForDrain();
    expect(drained.feeds[0]!.ackedSeq).toBe(drained.journal.headSeq);
    const signingKey = readFileSync(join(dir.path, 'relay-data', 'relay-signing.pub'), 'utf8');

    await pair.relay!.kill('SIGTERM');
    const config = join(dir.path, 'relay.yaml');
    const migrated = spawnSync(process.execPath, [CLI_PATH, 'relay', 'migrate-store', '-c', config, '--from', 'sqlite', '--to', 'postgres', '--url', target.url], { encoding: 'utf8' });
    expect(migrated.status, migrated.stderr).toBe(0);
    const [before, after] = migrated.stdout.split('digest of PostgreSQL').map((part) => part.split('\n').filter((line) => line.startsWith('  ')).join('\n'));
    expect(before).toMatch(/^ {2}feed_events +\d+ rows/m);
    expect(after).toBe(before);

    appendFileSync(config, `store: { kind: postgres, url: "${target.url}" }\n`);
    await pair.startRelay();
    await send(AFTER);
    const status = await pair.waitForDrain();
    expect(status.feeds[0]!.ackedSeq).toBe(status.journal.headSeq);
    await sender.close();

    // The same key signs on PostgreSQL: it stays in dataDir.
    expect(readFileSync(join(dir.path, 'relay-data', 'relay-signing.pub'), 'utf8')).toBe(signingKey);
    // The relay on PostgreSQL (a new process: its counters start at 0) saw no resent batch.
    const metrics = await (await fetch(`${pair.relayHttp}/metrics`, { headers: PAIR_OPERATOR_HEADERS })).text();
    const batches = (result: string) => Number(new RegExp(`^wardline_relay_batches_total\\{result="${result}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    expect({ duplicate: batches('duplicate'), overlap: batches('overlap'), gap: batches('gap') }).toEqual({ duplicate: 0, overlap: 0, gap: 0 });
    expect(batches('append')).toBeGreaterThan(0);

    // What came after the move is in PostgreSQL (not in relay.db, which the relay no longer opens).
    const database = new pg.Client({ connectionString: target.url });
    await database.connect();
    try {
      const { rows } = await database.query<{ n: string }>('SELECT count(*) AS n FROM feed_events');
      expect(Number(rows[0]!.n)).toBe(BEFORE + AFTER);
    } finally {
      await database.end();
    }

    const feed = await readWholeFeed(pair.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY);
    expect(feed.map((event) => event.headers.controlId)).toEqual(controlIds);
    for (let i = 1; i < feed.length; i++) expect(feed[i]!.seq).toBeGreaterThan(feed[i - 1]!.seq);
  }, 120_000);
});
