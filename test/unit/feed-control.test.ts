// The operator's feed controls against a real agent.db and a scripted link (the
// replicator's side): records and persisted state go together, a revoke the
// relay has not answered stays pending and is recorded when answered, a relay
// that forgot a revoke is sent it again, policy changes are recorded at start.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedControl, FeedControlError, type FeedLink } from '../../agent/control/index.js';
import { EgressLedger, type LedgerRecord } from '../../agent/audit/index.js';
import type { FeedControlRequest } from '../../agent/replication/relay-transport.js';
import { openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { ManualTimers } from '../support/manual-timers.js';
import { makeTempDir } from '../support/temp-dir.js';

class ScriptedLink implements FeedLink {
  readonly holds = new Map<string, string>();
  readonly requests: FeedControlRequest[] = [];
  inFlight = 0;

  hasFeed(feed: string): boolean {
    return feed === 'clinical' || feed === 'billing';
  }
  /** The test delivers the relay's answers and Welcomes itself (onControlAnswer, onWelcome). */
  listen(): void {}
  holdFeed(feed: string, reason: string): void {
    this.holds.set(feed, reason);
  }
  releaseFeed(feed: string): void {
    this.holds.delete(feed);
  }
  feedStatus(): { sentSeq: number; ackedSeq: number; inFlight: number } {
    return { sentSeq: 120, ackedSeq: 120 - this.inFlight * 10, inFlight: this.inFlight };
  }
  async whenFeedIdle(): Promise<boolean> {
    return this.inFlight === 0;
  }
  requestControl(request: FeedControlRequest): void {
    this.requests.push(request);
  }
}

const log = { info: () => {}, warn: () => {}, error: () => {} };
const FEEDS = [
  { name: 'clinical', relay: 'cloud', policyVersion: 4, policyDigest: 'd4' },
  { name: 'billing', relay: 'cloud', policyVersion: 0 },
];

describe('FeedControl', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let ledger: EgressLedger;
  let link: ScriptedLink;
  /** The relay-answer timeout runs on these: a test that lets it pass moves time instead of waiting. */
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

  async function control(feeds = FEEDS, answerTimeoutMs = 200): Promise<FeedControl> {
    const c = new FeedControl({ db, ledger, feeds, links: [link], log, answerTimeoutMs, timers });
    await c.start();
    return c;
  }
  const records = () => [...ledger.records()] as LedgerRecord[];

  it('records each feed\'s policy at the first start, and again only when it changes', async () => {
    await control();
    expect(records().map((r) => [r.type, r.feed, r.details])).toEqual([
      ['policy-change', 'clinical', { relay: 'cloud', fromVersion: null, toVersion: 4, fromDigest: null, toDigest: 'd4' }],
      ['policy-change', 'billing', { relay: 'cloud', fromVersion: null, toVersion: 0 }],
    ]);
    await control();
    expect(records()).toHaveLength(2);
    await control([{ ...FEEDS[0]!, policyVersion: 5, policyDigest: 'd5' }, FEEDS[1]!]);
    expect(records()[2]).toMatchObject({ type: 'policy-change', feed: 'clinical', details: { fromVersion: 4, toVersion: 5, fromDigest: 'd4', toDigest: 'd5' } });
  });

  it('pauses and resumes, recording both, and a restart starts held', async () => {
    const c = await control();
    const paused = await c.pause('clinical', { reason: 'audit', origin: 'cli' });
    expect(paused).toMatchObject({ feed: 'clinical', state: 'paused', changed: true, ledgerIndex: 3, inFlight: 0 });
    expect(link.holds.get('clinical')).toBe('paused by the operator');
    expect(records()[2]).toMatchObject({ type: 'pause', feed: 'clinical', details: { relay: 'cloud', reason: 'audit', origin: 'cli', sentSeq: 120, ackedSeq: 120, inFlight: 0 } });
    expect((await c.pause('clinical')).changed).toBe(false);
    expect(records()).toHaveLength(3);

    // A restart: the pause was persisted with its record.
    const restarted = new FeedControl({ db, ledger, feeds: FEEDS, log });
    expect(restarted.holds()).toEqual(new Map([['clinical', 'paused by the operator']]));
    expect(restarted.feedStatus('clinical')).toMatchObject({ state: 'paused', reason: 'audit' });

    const resumed = await c.resume('clinical');
    expect(resumed).toMatchObject({ state: 'active', changed: true, message: 'feed clinical resumed from seq 121' });
    expect(link.holds.has('clinical')).toBe(false);
    expect(new FeedControl({ db, ledger, feeds: FEEDS, log }).holds().size).toBe(0);
    await expect(c.pause('nope')).rejects.toMatchObject({ reason: 'unknown-feed' });
  });

  it('says when batches handed over before the pause are still unacknowledged', async () => {
    const c = await control();
    link.inFlight = 2;
    const paused = await c.pause('clinical');
    expect(paused).toMatchObject({ inFlight: 2, message: 'feed clinical paused: nothing more is sent; 2 batch(es) handed over before the pause are still unacknowledged' });
  });

  it('revokes: pending while the relay does not answer, recorded when it does, then refuses resume', async () => {
    const c = await control();
    const revoking = c.revoke('clinical', { reason: 'contract ended' });
    // The relay does not answer: the answer timeout passes.
    await timers.whenArmed();
    timers.advance(200);
    const pending = await revoking;
    expect(pending).toMatchObject({ state: 'revoking', relayAnswer: null });
    expect(link.holds.get('clinical')).toMatch(/revoked by the operator; waiting/);
    expect(link.requests).toEqual([{ kind: 'revoke', feed: 'clinical', reason: 'contract ended', ledgerHead: expect.any(Buffer), ledgerIndex: 3 }]);
    // Left pending across a restart: queued again at start.
    const restarted = new FeedControl({ db, ledger, feeds: FEEDS, links: [link], log });
    await restarted.start();
    expect(link.requests.at(-1)).toMatchObject({ kind: 'revoke', feed: 'clinical', reason: 'contract ended' });

    c.onControlAnswer('cloud', { kind: 'revoke', feed: 'clinical', eventsDeleted: 42, bytesDeleted: 4200, highWaterSeq: 120, revokedAtMs: Date.parse('2026-11-21T08:00:00Z'), alreadyRevoked: false });
    await new Promise((r) => setTimeout(r, 50));
    expect(c.stateOf('clinical')).toBe('revoked');
    expect(records().at(-1)).toMatchObject({
      type: 'revoked',
      feed: 'clinical',
      details: { relay: 'cloud', eventsDeleted: 42, bytesDeleted: 4200, highWaterSeq: 120, revokedAt: '2026-11-21T08:00:00.000Z', alreadyRevoked: false },
    });
    expect(link.holds.get('clinical')).toBe('revoked by the operator');
    await expect(c.resume('clinical')).rejects.toBeInstanceOf(FeedControlError);
    await expect(c.pause('clinical')).rejects.toThrow(/re-enable it with wardline agent reenable/);
    expect(ledger.verify().ok).toBe(true);
  });

  it('answers a revoke with the relay\'s answer when it comes in time', async () => {
    const c = await control([FEEDS[0]!], 2_000);
    const revoking = c.revoke('clinical', {});
    await new Promise((r) => setTimeout(r, 20));
    c.onControlAnswer('cloud', { kind: 'revoke', feed: 'clinical', eventsDeleted: 7, bytesDeleted: 70, highWaterSeq: 9, revokedAtMs: Date.now(), alreadyRevoked: false });
    const result = await revoking;
    expect(result).toMatchObject({ state: 'revoked', relayAnswer: { details: { eventsDeleted: 7 } }, message: 'feed clinical revoked: the relay deleted 7 events (70 bytes) and no longer serves it' });

    const reenabling = c.reenable('clinical', { reason: 'new contract' });
    await new Promise((r) => setTimeout(r, 20));
    expect(link.requests.at(-1)).toMatchObject({ kind: 'reinstate', feed: 'clinical', reason: 'new contract' });
    c.onControlAnswer('cloud', { kind: 'reinstate', feed: 'clinical', highWaterSeq: 9, wasRevoked: true });
    expect(await reenabling).toMatchObject({ state: 'active', relayAnswer: { details: { highWaterSeq: 9, wasRevoked: true } } });
    expect(link.holds.has('clinical')).toBe(false);
    expect(records().slice(-4).map((r) => r.type)).toEqual(['revoke', 'revoked', 'reenable', 'reinstated']);
    await expect(c.reenable('clinical')).rejects.toThrow(/not revoked/);
  });

  it('sends a revoke again to a relay that no longer holds it, and notices a relay that holds one the agent does not', async () => {
    const c = await control([FEEDS[0]!], 2_000);
    const revoking = c.revoke('clinical', {});
    await new Promise((r) => setTimeout(r, 20));
    c.onControlAnswer('cloud', { kind: 'revoke', feed: 'clinical', eventsDeleted: 1, bytesDeleted: 1, highWaterSeq: 1, revokedAtMs: Date.now(), alreadyRevoked: false });
    await revoking;
    const sent = link.requests.length;
    c.onWelcome('cloud', new Set());
    expect(link.requests).toHaveLength(sent + 1);
    expect(link.requests.at(-1)).toMatchObject({ kind: 'revoke', feed: 'clinical' });

    const other = new FeedControl({ db, ledger, feeds: [FEEDS[1]!], links: [link], log });
    other.onWelcome('cloud', new Set(['billing']));
    expect(other.feedStatus('billing')).toMatchObject({ state: 'active', revokedAtRelay: true });
  });
  it('status says revokedAtRelay whenever the relay holds the feed revoked: after a confirmed revoke, after a restart, until the relay says otherwise', async () => {
    const c = await control([FEEDS[0]!], 2_000);
    const revoking = c.revoke('clinical', {});
    await new Promise((r) => setTimeout(r, 20));
    // Asked, not answered: the relay may still serve it.
    expect(c.feedStatus('clinical')).toMatchObject({ state: 'revoking', revokedAtRelay: false });
    c.onControlAnswer('cloud', { kind: 'revoke', feed: 'clinical', eventsDeleted: 1, bytesDeleted: 1, highWaterSeq: 1, revokedAtMs: Date.now(), alreadyRevoked: false });
    await revoking;
    expect(c.feedStatus('clinical')).toMatchObject({ state: 'revoked', revokedAtRelay: true });
    // A restart, before the relay has said anything: only a confirmed revoke makes 'revoked'.
    expect(new FeedControl({ db, ledger, feeds: [FEEDS[0]!], links: [link], log }).feedStatus('clinical')).toMatchObject({ state: 'revoked', revokedAtRelay: true });
    // The relay forgot it (restored from a backup): it no longer holds it revoked, and the revoke goes again.
    c.onWelcome('cloud', new Set());
    expect(c.feedStatus('clinical')).toMatchObject({ state: 'revoked', revokedAtRelay: false });
    c.onWelcome('cloud', new Set(['clinical']));
    expect(c.feedStatus('clinical').revokedAtRelay).toBe(true);
    const reenabling = c.reenable('clinical', {});
    await new Promise((r) => setTimeout(r, 20));
    c.onControlAnswer('cloud', { kind: 'reinstate', feed: 'clinical', highWaterSeq: 1, wasRevoked: true });
    await reenabling;
    expect(c.feedStatus('clinical')).toMatchObject({ state: 'active', revokedAtRelay: false });
  });
});
