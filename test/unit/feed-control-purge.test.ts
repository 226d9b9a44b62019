// The hospital's purge in the feed controls, against a real agent.db and a
// scripted link: refused with nothing recorded while the link is down or when
// the relay does not list purge-v1 (the message names the upgrade); otherwise
// 'purge' is recorded before the request leaves, the feed is held for good, and
// the relay's answer is recorded as 'purged' with the receipt text and its
// signature exactly as received (or its refusal), the feed ending revoked.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedControl, type FeedLink } from '../../agent/control/index.js';
import { EgressLedger, type LedgerRecord } from '../../agent/audit/index.js';
import type { FeedControlRequest } from '../../agent/replication/relay-transport.js';
import { openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { PURGE_FEATURE } from '../../protocol/index.js';
import { ManualTimers } from '../support/manual-timers.js';
import { makeTempDir } from '../support/temp-dir.js';

class ScriptedLink implements FeedLink {
  readonly holds = new Map<string, string>();
  readonly requests: FeedControlRequest[] = [];
  /** What the relay's Welcome listed; undefined = no stream up. */
  features: ReadonlySet<string> | undefined = new Set([PURGE_FEATURE]);

  hasFeed(feed: string): boolean {
    return feed === 'clinical';
  }
  listen(): void {}
  holdFeed(feed: string, reason: string): void {
    this.holds.set(feed, reason);
  }
  releaseFeed(feed: string): void {
    this.holds.delete(feed);
  }
  feedStatus(): { sentSeq: number; ackedSeq: number; inFlight: number } {
    return { sentSeq: 120, ackedSeq: 120, inFlight: 0 };
  }
  async whenFeedIdle(): Promise<boolean> {
    return true;
  }
  requestControl(request: FeedControlRequest): void {
    this.requests.push(request);
  }
  relayFeatures(): ReadonlySet<string> | undefined {
    return this.features;
  }
}

const log = { info: () => {}, warn: () => {}, error: () => {} };
const FEEDS = [{ name: 'clinical', relay: 'cloud', policyVersion: 0 }];
const RECEIPT = `${JSON.stringify({ feeds: [{ feed: 'clinical', eventsDeleted: 120, bytesDeleted: 9000, treeSize: 120, merkleRoot: 'ab'.repeat(32) }], purgedAt: '2026-12-03T06:00:00.000Z' }, null, 2)}\n`;
const SIGNATURE = 'untrusted comment: x\nRWQ=\ntrusted comment: y\nAAA=\n';

describe('FeedControl.purge', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let ledger: EgressLedger;
  let link: ScriptedLink;
  let timers: ManualTimers;

  beforeEach(() => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    ledger = new EgressLedger(db);
    link = new ScriptedLink();
    timers = new ManualTimers();
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  async function control(): Promise<FeedControl> {
    const c = new FeedControl({ db, ledger, feeds: FEEDS, links: [link], log, answerTimeoutMs: 200, timers });
    await c.start();
    return c;
  }
  const records = () => [...ledger.records()] as LedgerRecord[];

  it('refuses while the link is down, and for a relay without purge-v1, recording nothing', async () => {
    const c = await control();
    const before = records().length;
    link.features = undefined;
    await expect(c.purge('clinical')).rejects.toThrow(/the link to relay cloud is not up.*nothing was recorded/);
    link.features = new Set();
    await expect(c.purge('clinical')).rejects.toThrow(/relay cloud does not offer purge-v1 \(signed purge receipts\): upgrade the relay/);
    await expect(c.purge('nope')).rejects.toMatchObject({ reason: 'unknown-feed' });
    expect(records()).toHaveLength(before);
    expect(link.requests).toEqual([]);
    expect(c.stateOf('clinical')).toBe('active');
  });

  it('records purge, sends it with its ledger head, records purged with the receipt; the feed ends revoked', async () => {
    const c = await control();
    const purging = c.purge('clinical', { reason: 'hospital request', requestedBy: 'cli, ops' });
    await timers.whenArmed();
    expect(records().at(-1)).toMatchObject({ type: 'purge', feed: 'clinical', details: { relay: 'cloud', reason: 'hospital request', sentSeq: 120 } });
    expect(link.requests).toEqual([{ kind: 'purge', feed: 'clinical', reason: 'hospital request', requestedBy: 'cli, ops', ledgerHead: expect.any(Buffer), ledgerIndex: records().at(-1)!.index }]);
    expect(link.holds.get('clinical')).toMatch(/purged by the operator/);
    c.onControlAnswer('cloud', { kind: 'purge', feed: 'clinical', receipt: RECEIPT, receiptSignature: SIGNATURE, error: '' });
    const result = await purging;
    expect(result).toMatchObject({ state: 'revoked', message: expect.stringContaining('feed clinical purged: the relay deleted 120 events (9000 bytes) and signed a receipt') });
    expect(records().at(-1)).toMatchObject({ type: 'purged', feed: 'clinical', details: { relay: 'cloud', receipt: RECEIPT, receiptSignature: SIGNATURE, eventsDeleted: 120, merkleRoot: 'ab'.repeat(32) } });
    // Held for good: a restart starts it held.
    expect(new FeedControl({ db, ledger, feeds: FEEDS, log }).holds()).toEqual(new Map([['clinical', 'revoked by the operator']]));
  });

  it('a purge left unanswered is sent again as a purge after a restart', async () => {
    const c = await control();
    const purging = c.purge('clinical', { reason: 'hospital request' });
    await timers.whenArmed();
    timers.advance(200);
    expect(await purging).toMatchObject({ state: 'revoking', relayAnswer: null, message: expect.stringContaining('its purge is pending') });
    const restarted = new FeedControl({ db, ledger, feeds: FEEDS, links: [link], log });
    await restarted.start();
    expect(link.requests.at(-1)).toMatchObject({ kind: 'purge', feed: 'clinical', reason: 'hospital request' });
  });

  it('records the relay\'s refusal; the feed stays revoked here', async () => {
    const c = await control();
    const purging = c.purge('clinical');
    await timers.whenArmed();
    c.onControlAnswer('cloud', { kind: 'purge', feed: 'clinical', receipt: '', receiptSignature: '', error: 'WL_PURGE_UNKNOWN_FEED: no such feed' });
    expect(await purging).toMatchObject({ state: 'revoked', message: 'feed clinical is revoked here, but the relay refused the purge: WL_PURGE_UNKNOWN_FEED: no such feed' });
    expect(records().at(-1)).toMatchObject({ type: 'purged', details: { relay: 'cloud', error: 'WL_PURGE_UNKNOWN_FEED: no such feed' } });
  });
});
