// Purge end to end with real processes: a relay and an agent as child processes
// over gRPC. The hospital purges one feed with `wardline agent purge`: the relay
// deletes and erases it and answers with a receipt signed by its key; the agent
// records 'purge' and 'purged' (receipt and signature) in its egress ledger,
// the feed ends revoked there, `wardline audit verify` still passes, Debian's
// minisign verifies the receipt with the relay's public key, and its root equals
// scanFeed's (the export's) taken before. Then the operator's contract-end purge
// of the whole hospital through the running relay (`wardline relay purge`), and
// the refusals: unknown feed, unknown hospital, a relay that is not running.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { FeedControlResult } from '../../agent/control/index.js';
import type { RelayStatus } from '../../cloud-relay/index.js';
import { relayDatabaseFile, scanFeed, SqliteFeedStore, type FeedScan } from '../../cloud-relay/store/index.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_FEED, PAIR_OPERATOR_HEADERS, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';
import { WardlineProcess } from '../support/wardline-process.js';

const HOSPITAL = 'purge-hospital';
const OTHER_FEED = 'billing';
const ROWS = 2_000;
/** Inbound events vendors wrote for the hospital, open at the relay when it is purged. */
const INBOUND_EVENTS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const marker = (stream: string, n: number) => `PURGEMARK-${stream}-${n % 10}-ZZ`;

async function cli(args: string[]): Promise<{ code: number | null; output: string }> {
  const process = new WardlineProcess(args);
  const { code } = await process.exited;
  return { code, output: process.recentOutput };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

function markersIn(dir: string, stream: string): string[] {
  const markers = Array.from({ length: 10 }, (_, n) => marker(stream, n));
  return filesUnder(dir).flatMap((file) => {
    const bytes = readFileSync(file);
    return markers.filter((m) => bytes.includes(Buffer.from(m))).map((m) => `${file}: ${m}`);
  });
}

describe('purge with a signed receipt (real relay and agent)', () => {
  const dir = makeTempDir('wardline-purge-e2e-');
  const relayData = join(dir.path, 'relay-data');
  const pub = join(relayData, 'relay-signing.pub');
  let pair: WardlinePair;
  let firstReceipt = '';

  beforeAll(async () => {
    pair = await WardlinePair.create(dir.path, {
      hospital: HOSPITAL,
      logLevel: 'warn',
      extraFeeds: [{ name: OTHER_FEED, streams: ['billing'] }],
      // A downlink channel whose HIS never answers: what vendors wrote stays open at the relay until the purge.
      vendorInbound: ['bookings'],
      agentSections: { inbound: [{ channel: 'bookings', relay: 'cloud', keyPath: '$.patient.id', sink: { kind: 'mllp', address: `127.0.0.1:${await freePort()}`, message: 'SRM^S01', mapping: { 'PID-3.1': '$.patient.id' } } }] },
    });
    await pair.startRelay();
    await pair.startAgent();
    for (const stream of ['adt', 'billing']) {
      for (let first = 0; first < ROWS; first += 500) {
        const rows = Array.from({ length: 500 }, (_, i) => ({ key: `${stream}-${first + i}`, value: { note: marker(stream, first + i), n: first + i } }));
        const response = await fetch(`${pair.agentHttp}/v1/ingest/${stream}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rows) });
        expect(response.ok, await response.text()).toBe(true);
      }
    }
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const status = await pair.agentStatus();
      if (status.feeds.every((f) => f.ackedSeq >= status.journal.headSeq) && status.links[0]!.state === 'streaming') break;
      await sleep(100);
    }
    for (let n = 0; n < INBOUND_EVENTS; n++) {
      const response = await fetch(`${pair.relayHttp}/v1/hospitals/${HOSPITAL}/inbound/bookings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PAIR_VENDOR_KEY}`, 'content-type': 'application/json', 'idempotency-key': `purge-${n}` },
        body: JSON.stringify({ patient: { id: `P${n}` }, note: marker('inbound', n) }),
      });
      expect(response.status, await response.text()).toBe(202);
    }
  }, 120_000);

  afterAll(async () => {
    await pair?.stop();
    dir.remove();
  });

  /** scanFeed over the relay's file, as the export takes it (WAL: read beside the running relay). */
  async function scanAtRelay(feed: string): Promise<FeedScan> {
    const store = SqliteFeedStore.open({ file: relayDatabaseFile(relayData) });
    try {
      return await scanFeed(store, HOSPITAL, feed);
    } finally {
      await store.close();
    }
  }

  it('refuses an unknown feed clearly, recording nothing', async () => {
    const { code, output } = await cli(['agent', 'purge', '--feed', 'nope', '--url', pair.agentHttp, '--yes']);
    expect(code).toBe(2);
    expect(output).toContain('no feed named "nope" is configured');
    // Without --yes and without a terminal: refused, nothing done.
    const unconfirmed = await cli(['agent', 'purge', '--feed', PAIR_FEED, '--url', pair.agentHttp]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.output).toContain('not confirmed: nothing was purged');
    expect((await pair.agentStatus()).ledger!.recentActions.some((r) => r.type === 'purge')).toBe(false);
  });

  it('purges the feed: receipt signed, verified by minisign, roots equal the export\'s, kept in the ledger; the feed is revoked here', async () => {
    const before = await scanAtRelay(PAIR_FEED);
    expect(before.events).toBeGreaterThanOrEqual(ROWS);
    expect(markersIn(relayData, 'adt').length).toBeGreaterThan(0);
    const receiptFile = join(dir.path, 'receipt.json');
    const started = Date.now();
    const { code, output } = await cli(['agent', 'purge', '--feed', PAIR_FEED, '--url', pair.agentHttp, '--reason', 'hospital request', '--yes', '--receipt-out', receiptFile]);
    console.log(`agent purge of ${before.events} events: ${Date.now() - started} ms (CLI process included)`);
    expect(code, output).toBe(0);
    expect(output).toContain(`feed ${PAIR_FEED} purged: the relay deleted ${before.events} events`);
    expect(output).toContain(`minisign -Vm ${receiptFile} -p relay-signing.pub`);

    const verified = spawnSync('minisign', ['-V', '-m', receiptFile, '-p', pub], { encoding: 'utf8' });
    expect(verified.status, verified.stderr).toBe(0);
    firstReceipt = readFileSync(receiptFile, 'utf8');
    const receipt = JSON.parse(firstReceipt);
    expect(receipt).toMatchObject({ format: 'wardline-purge-receipt-v1', hospital: HOSPITAL, scope: 'feed', reason: 'hospital request', requestedBy: expect.stringContaining(`hospital ${HOSPITAL}, agent`) });
    expect(receipt.feeds[0]).toMatchObject({ feed: PAIR_FEED, treeSize: before.events, merkleRoot: before.root.toString('hex'), events: before.events, bodyBytes: before.bodyBytes, eventsDeleted: before.events });

    const status = await pair.agentStatus();
    expect(status.feeds.find((f) => f.feed === PAIR_FEED)).toMatchObject({ control: { state: 'revoked' } });
    const purged = status.ledger!.recentActions.find((r) => r.type === 'purged')!;
    expect(purged).toMatchObject({ feed: PAIR_FEED, details: { receipt: firstReceipt, receiptSignature: readFileSync(`${receiptFile}.minisig`, 'utf8'), merkleRoot: before.root.toString('hex') } });
    expect(status.ledger!.recentActions.find((r) => r.type === 'purge')).toMatchObject({ feed: PAIR_FEED, index: purged.index - 1 });

    const audit = await cli(['audit', 'verify', '--config', join(dir.path, 'agent.yaml')]);
    expect(audit.code, audit.output).toBe(0);
    expect(audit.output).toContain('ledger OK');

    const relayStatus = (await (await fetch(`${pair.relayHttp}/v1/status`, { headers: PAIR_OPERATOR_HEADERS })).json()) as RelayStatus;
    expect(relayStatus.hospitals.find((h) => h.id === HOSPITAL)!.revokedFeeds).toEqual([expect.objectContaining({ feed: PAIR_FEED })]);
    expect(markersIn(relayData, 'adt')).toEqual([]);
    expect(markersIn(relayData, 'billing').length).toBeGreaterThan(0);
  }, 120_000);

  it('a repeated purge answers the receipt kept at the relay', async () => {
    const { code, output } = await cli(['agent', 'purge', '--feed', PAIR_FEED, '--url', pair.agentHttp, '--yes', '--json']);
    expect(code, output).toBe(0);
    const result = JSON.parse(output.slice(output.indexOf('{'))) as FeedControlResult;
    expect(result.relayAnswer!.details.receipt).toBe(firstReceipt);
  });

  it('the operator purges the rest of the hospital through the running relay; refusals are clear', async () => {
    const config = join(dir.path, 'relay.yaml');
    const unknown = await cli(['relay', 'purge', '-c', config, '--hospital', 'no-such-hospital', '--yes']);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toContain('WL_PURGE_UNKNOWN_HOSPITAL');
    const unknownFeed = await cli(['relay', 'purge', '-c', config, '--hospital', HOSPITAL, '--feed', 'nope', '--yes']);
    expect(unknownFeed.code).toBe(2);
    expect(unknownFeed.output).toContain(`hospital "${HOSPITAL}" has no feed "nope" on this relay`);

    // The agent would keep sending the other feed; stop it, as at contract end.
    await pair.agent?.kill('SIGTERM');
    pair.agent = undefined;
    const receiptFile = join(dir.path, 'contract-end.json');
    const { code, output } = await cli(['relay', 'purge', '-c', config, '--hospital', HOSPITAL, '--yes', '--receipt-out', receiptFile]);
    expect(code, output).toBe(0);
    expect(output).toContain(`minisign -Vm ${receiptFile} -p ${pub}`);
    expect(spawnSync('minisign', ['-V', '-m', receiptFile, '-p', pub], { encoding: 'utf8' }).status).toBe(0);
    const receipt = JSON.parse(readFileSync(receiptFile, 'utf8'));
    expect(receipt).toMatchObject({ scope: 'hospital', hospital: HOSPITAL, requestedBy: expect.stringMatching(/^relay operator/), ledgerHeadsDeleted: 2 });
    // The feed purged before has its own receipt; this one covers what was left.
    expect(receipt.feeds.map((f: { feed: string }) => f.feed)).toEqual([OTHER_FEED]);
    expect(receipt.feeds[0]).toMatchObject({ feed: OTHER_FEED, eventsDeleted: ROWS, revokedBefore: null });
    expect(markersIn(relayData, 'billing')).toEqual([]);
    // What vendors wrote for the hospital went with it, from the files too.
    expect(receipt.inboundDeleted).toEqual({ events: INBOUND_EVENTS, receipts: 0 });
    expect(markersIn(relayData, 'inbound')).toEqual([]);
    const db = new Database(relayDatabaseFile(relayData), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM inbound_events WHERE hospital = ?').get(HOSPITAL)).toEqual({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM feed_events WHERE hospital = ?').get(HOSPITAL)).toEqual({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM agent_ledger_heads WHERE hospital = ?').get(HOSPITAL)).toEqual({ n: 0 });
    } finally {
      db.close();
    }

    await pair.relay?.kill('SIGTERM');
    pair.relay = undefined;
    const notRunning = await cli(['relay', 'purge', '-c', config, '--hospital', HOSPITAL, '--yes']);
    expect(notRunning.code).toBe(2);
    expect(notRunning.output).toContain('the relay is not running');
    expect(notRunning.output).toContain('Nothing was purged');
  }, 120_000);
});
