// The dashboard tells the truth about completeness proofs, in a real browser
// (chromium) against a real relay and a real agent (real SQLite files, real
// gRPC on 127.0.0.1). The operator logs in; rows are ingested; the feed card's
// proof line says "verified complete through seq N" with N exactly what
// /v1/status says at that moment, formatted as the dashboard formats counts
// (1,200), and no incidents badge. Then one stored body is altered by a direct
// write to the relay's relay.db: /v1/status counts the incident, the card's
// badge shows that count, the proof line stops before the altered window, and
// the alerts panel shows the feed-proof alert firing. Every comparison is exact
// equality with what /v1/status said just before and just after the page was
// read, so a stale or wrong figure on the card fails the test.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../agent/http/admin-password.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import type { AgentStatus, FeedStatus } from '../../agent/operations/agent-status.js';
import { startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { findChromium, launchChromium } from '../support/dashboard-browser.js';
import { makeTempDir } from '../support/temp-dir.js';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('dashboard proofs test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, or set WARDLINE_CHROMIUM)');

const SECRET = 'dashboard-proofs-secret-01';
const PASSWORD = 'proofs on the wall screen';
const TOKEN = 'dashboard-proofs-admin-token-0001';
const quiet = pino({ level: 'silent' });
/** Windows of 500 seqs, a partial one closed after 1.5 s, verified windows re-compared every second. */
const PROOFS = '{ windowSeqs: 500, windowMs: 1500, recheckIntervalMs: 1000, recheckWindows: 10 }';
/** 1,200 rows: windows [1, 500], [501, 1000] and [1001, 1200], so the final figure needs a thousands separator. */
const ROWS = 1200;
/** A seq in the last window: the first two stay verified after the alteration. */
const ALTERED = 1100;

/** What the card's proof line must say for these proofs (render-feeds.js with i18n.js feed.proof.*, en-GB counts as format.js count). */
function expectedProofLine(proofs: NonNullable<FeedStatus['proofs']>): string {
  if (proofs.state === 'off') return '';
  if (proofs.state === 'unavailable') return 'completeness not proved: the relay does not take proofs (upgrade it)';
  if (proofs.verifiedThroughSeq > 0) return `verified complete through seq ${new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 }).format(proofs.verifiedThroughSeq)}`;
  return 'completeness: the first window is not verified yet';
}
function expectedBadge(proofs: NonNullable<FeedStatus['proofs']>): { hidden: boolean; hiddenFlag: boolean; text: string } {
  return proofs.incidents > 0
    ? { hidden: false, hiddenFlag: false, text: `${new Intl.NumberFormat('en-GB').format(proofs.incidents)} INTEGRITY INCIDENT(S) at the relay` }
    : { hidden: true, hiddenFlag: true, text: '' };
}

describe.skipIf(!CHROMIUM)('completeness proofs on the dashboard (real relay, real agent, real browser)', () => {
  const dir = makeTempDir('wardline-dash-proofs-');
  let relay: RelayHandle;
  let agent: RunningAgent;
  let browser: Browser;
  let page: Page;
  let agentUrl: string;
  const card = '[data-feed="clinical"]';

  const status = async (): Promise<AgentStatus> => (await (await fetch(`${agentUrl}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as AgentStatus;
  const proofsNow = async () => (await status()).feeds.find((f) => f.feed === 'clinical')!.proofs!;
  const shown = async () => ({
    line: (await page.textContent(`${card} [data-role="proof"]`)) ?? '',
    lineHidden: await page.isHidden(`${card} [data-role="proof"]`),
    badge: {
      // Drawn or not (what the operator sees), and the element's hidden flag agreeing with it:
      // .badge sets display, so the flag alone does not hide a badge that has text.
      hidden: await page.isHidden(`${card} [data-role="proof-incidents"]`),
      hiddenFlag: (await page.getAttribute(`${card} [data-role="proof-incidents"]`, 'hidden')) !== null,
      text: (await page.textContent(`${card} [data-role="proof-incidents"]`)) ?? '',
    },
  });

  /**
   * Reads /v1/status, then the card, then /v1/status again, until the two reads of
   * status are the same and the card says exactly what they say (windows keep
   * closing, so a read in between a change is retried, never slept over).
   */
  async function cardAgreesWithStatus(what: string, done: (proofs: NonNullable<FeedStatus['proofs']>) => boolean, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      const before = await proofsNow();
      const onCard = await shown();
      const after = await proofsNow();
      const stable = before.verifiedThroughSeq === after.verifiedThroughSeq && before.incidents === after.incidents && before.state === after.state;
      const want = { line: expectedProofLine(after), lineHidden: expectedProofLine(after) === '', badge: expectedBadge(after) };
      if (stable && done(after) && JSON.stringify(onCard) === JSON.stringify(want)) return { proofs: after, onCard };
      last = { status: after, card: onCard, want };
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async function ingest(rows: number, prefix: string): Promise<number[]> {
    const response = await fetch(`${agentUrl}/v1/ingest/adt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: rows }, (_, i) => ({ key: `${prefix}-${i}`, text: `${prefix} row ${i}` }))),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { seqs: number[] }).seqs;
  }

  beforeAll(async () => {
    const relayFile = join(dir.path, 'relay.yaml');
    writeFileSync(
      relayFile,
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
allowPlaintext: true
hospitals: [{ id: dash-proof-hospital, secret: "${SECRET}" }]
log: { level: silent }
`,
    );
    relay = await startRelay(relayFile, { logger: quiet });
    const agentFile = join(dir.path, 'agent.yaml');
    writeFileSync(
      agentFile,
      `hospital: { id: dash-proof-hospital }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0", admin: { passwordHash: "${await hashPassword(PASSWORD, { logN: 12 })}", token: "${TOKEN}" } }
relays: [{ name: cloud, address: "127.0.0.1:${relay.grpcPort}", secret: "${SECRET}", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
replication: { backoff: { initialMs: 100, maxMs: 500 }, proofs: ${PROOFS} }
alerts: { settleAfter: '2s' }
log: { level: silent }
`,
    );
    agent = await startAgent(agentFile, { logger: quiet });
    agentUrl = `http://127.0.0.1:${agent.httpPort}`;
    browser = await launchChromium(CHROMIUM!);
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, locale: 'en-GB' });
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    // The operator logs in at the form.
    await page.goto(agentUrl);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${agentUrl}/`), page.click('button[type=submit]')]);
    await page.waitForSelector(`${card} [data-role="proof"]`, { state: 'attached', timeout: 15_000 });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await relay?.stop();
    dir.remove();
  });

  it('shows "verified complete through seq N" with N exactly as /v1/status has it, then the incident, its count and its alert', async () => {
    const startedAt = Date.now();
    const seqs: number[] = [];
    for (let batch = 0; batch < 4; batch++) seqs.push(...(await ingest(ROWS / 4, `adt${batch}`)));
    expect(seqs).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));

    // The first verified window, as the card shows it at the moment status has it.
    await expect.poll(async () => (await proofsNow()).verifiedThroughSeq, { timeout: 15_000, interval: 100 }).toBeGreaterThan(0);
    const first = await cardAgreesWithStatus('the card to show the first verified figure', (p) => p.verifiedThroughSeq > 0);
    expect(first.proofs).toMatchObject({ state: 'running', incidents: 0 });
    expect(first.onCard.line).toMatch(/^verified complete through seq [\d,]+$/);
    expect(first.onCard.badge.hidden).toBe(true);

    // Every window verified: the head of the feed, with the thousands separator.
    const all = await cardAgreesWithStatus('the card to show every window verified', (p) => p.verifiedThroughSeq === ROWS);
    expect(all.onCard.line).toBe('verified complete through seq 1,200');
    expect(all.onCard.badge).toEqual({ hidden: true, hiddenFlag: true, text: '' });
    expect(await page.$$eval('#alerts li[data-rule="feed-proof"]', (els) => els.length)).toBe(0);

    // One stored body altered at the relay, by a direct write to its SQLite file.
    const relayDb = new Database(join(dir.path, 'relay-data', 'relay.db'));
    try {
      const changed = relayDb
        .prepare("UPDATE feed_events SET body = ? WHERE hospital = 'dash-proof-hospital' AND feed = 'clinical' AND seq = ?")
        .run(Buffer.from('{"text":"tampered"}'), ALTERED);
      expect(changed.changes).toBe(1);
    } finally {
      relayDb.close();
    }
    await expect.poll(async () => (await proofsNow()).incidents, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    const broken = await cardAgreesWithStatus('the card to show the incident', (p) => p.incidents >= 1 && p.verifiedThroughSeq === 1000);
    expect(broken.onCard.badge).toEqual({ hidden: false, hiddenFlag: false, text: `${broken.proofs.incidents} INTEGRITY INCIDENT(S) at the relay` });
    expect(broken.proofs.incidents).toBe(1);
    // "Verified through" stops before the window that holds the altered event.
    expect(broken.onCard.line).toBe('verified complete through seq 1,000');
    expect(await page.getAttribute(`${card} [data-role="proof-incidents"]`, 'class')).toContain('badge-warn');

    // The alerts panel: the feed-proof alert for the feed, firing, once, worded from i18n.js.
    const alert = `#alerts li[data-rule="feed-proof"][data-subject="clinical"][data-state="firing"]`;
    await page.waitForSelector(alert, { timeout: 10_000 });
    expect(await page.$$eval('#alerts li[data-rule="feed-proof"]', (els) => els.length)).toBe(1);
    expect(await page.textContent(`${alert} .alert-text`)).toBe('Feed clinical: the relay holds events otherwise than sent (integrity incident)');
    expect(await page.getAttribute(alert, 'class')).toContain('is-active');
    const active = (await status()).alerts?.active ?? [];
    expect(active.filter((a) => a.rule === 'feed-proof' && a.subject === 'clinical')).toHaveLength(1);

    // One screenshot of the page as it stands.
    const png = join(dir.path, 'dashboard-proofs.png');
    await page.screenshot({ path: png, fullPage: true });
    const bytes = readFileSync(png);
    expect(bytes.length).toBeGreaterThan(1000);
    expect(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    console.log(`dashboard proofs: ingest to the alert on the page in ${Date.now() - startedAt} ms`);
  }, 30_000);
});
