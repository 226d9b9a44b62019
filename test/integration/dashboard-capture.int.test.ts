// A database source on a real agent, seen everywhere the operator looks: the
// agent's config has a PostgreSQL source pointing at a port where nothing listens,
// so the source reports starting, retrying (server unreachable) or stopped. The
// test checks that /v1/status carries its capture status as the source built it
// (no quiet period of its own), that the dashboard in a real browser (chromium)
// draws its card from the same figures in English and Chinese, that /metrics
// exports its state one-hot, that `wardline agent status` prints its line, and
// that once the agent is killed the card says "last known", never the old state
// as now. Every state's wording is tested from sample values in
// test/unit/dashboard-capture-view.test.ts. Screenshots in test/artifacts/.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { CAPTURE_STATES } from '../../agent/sources/index.js';
import { findChromium, launchChromium, openPage, screenshot } from '../support/dashboard-browser.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH, WardlineProcess, waitForHttp } from '../support/wardline-process.js';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('dashboard capture test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, or set WARDLINE_CHROMIUM)');

/** What a source with no server to talk to may honestly say. */
const NO_SERVER_STATES = ['starting', 'retrying', 'stopped'];

describe.skipIf(!CHROMIUM)('a database source on the dashboard, /v1/status, /metrics and the CLI (real agent, real browser)', () => {
  const dir = makeTempDir('wardline-capture-dash-');
  let agent: WardlineProcess;
  let browser: Browser;
  let page: Page;
  let agentUrl: string;
  const status = async (): Promise<AgentStatus> => (await (await fetch(`${agentUrl}/v1/status`)).json()) as AgentStatus;
  const his = async () => (await status()).sources.find((s) => s.name === 'his')!;
  const card = '[data-capture="his"]';

  beforeAll(async () => {
    const [httpPort, deadDatabasePort, deadRelayPort] = [await freePort(), await freePort(), await freePort()];
    agentUrl = `http://127.0.0.1:${httpPort}`;
    writeFileSync(
      join(dir.path, 'agent.yaml'),
      `hospital: { id: capture-dash-h, name: "Capture Hospital" }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${httpPort}" }
sources:
  - kind: postgres
    name: his
    connection: { host: 127.0.0.1, port: ${deadDatabasePort}, database: his, user: wardline, connectTimeout: 2 }
    tables: [{ table: patients }]
relays: [{ name: cloud, address: "127.0.0.1:${deadRelayPort}", secret: "capture-dash-secret-0001", allowPlaintext: true, connectTimeoutMs: 1000 }]
feeds: [{ name: clinical, relay: cloud, streams: [his.patients] }]
log: { level: warn }
`,
    );
    agent = new WardlineProcess(['agent', 'start', '--config', join(dir.path, 'agent.yaml')], join(dir.path, 'agent.log'));
    await waitForHttp(`${agentUrl}/healthz`, agent);
    browser = await launchChromium(CHROMIUM!);
    page = await openPage(browser, agentUrl);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill('SIGKILL');
    dir.remove();
  });

  it('serves the source on /v1/status with its capture status, and no quiet period', async () => {
    const source = await his();
    expect(source.kind).toBe('postgres');
    expect(source.quietPeriodSeconds).toBeNull();
    expect(source.capture).toBeDefined();
    const capture = source.capture!;
    expect(NO_SERVER_STATES).toContain(capture.state);
    expect(source.state).toBe(capture.state);
    // Every field of the shape is there, none dropped on the way.
    expect(Object.keys(capture).sort()).toEqual(['lagMs', 'lastError', 'position', 'reason', 'retained', 'rowsPerSecond', 'schemaVersion', 'snapshot', 'state', 'transactions'].sort());
    expect(capture.transactions).toBe(0);
    expect(capture.position).toBeNull();
    // Not capturing: /readyz says so, naming the source.
    const ready = await fetch(`${agentUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(/source his.*not capturing \((starting|retrying|stopped)/);
  });

  it('draws a card from the same figures, in English and Chinese', async () => {
    await page.waitForSelector(`${card} [data-figure="capture.his.state"]`, { timeout: 20_000 });
    expect(await page.isVisible('#capture')).toBe(true);
    // The card says what the agent says now (the state may move on: compare once they agree).
    await expect
      .poll(async () => [await page.getAttribute('[data-figure="capture.his.state"]', 'data-value'), (await his()).capture!.state], { timeout: 15_000, interval: 500 })
      .toSatisfy(([shown, served]) => shown === served);
    const source = await his();
    const capture = source.capture!;
    const words: Record<string, string> = { starting: 'Starting', retrying: 'Retrying', stopped: 'Stopped' };
    expect(await page.textContent('[data-figure="capture.his.state"]')).toBe(words[capture.state]);
    expect(await page.textContent(`${card} [data-role="kind"]`)).toBe('PostgreSQL');
    const level = await page.getAttribute(card, 'data-level');
    expect(level).toBe(capture.state === 'stopped' ? 'bad' : capture.state === 'retrying' ? 'warn' : 'busy');
    // The reason moves on too ("retrying in 1 s", then "2 s"): compare once the card shows the one served.
    await expect
      .poll(
        async () => {
          const shown = (await page.textContent(`${card} [data-role="detail"]`)) ?? '';
          const served = (await his()).capture!;
          return served.state === 'starting' ? shown === "Connecting and checking the server's settings" : shown.includes(served.reason ?? '');
        },
        { timeout: 15_000, interval: 300 },
      )
      .toBe(true);
    expect(await page.textContent('[data-figure="capture.his.lagMs"]')).toBe('not known yet');
    expect(await page.textContent('[data-figure="capture.his.position"]')).toBe('none');
    expect(await page.textContent(`${card} [data-role="transactions"]`)).toBe('0 transactions journaled');
    if (capture.lastError) expect(await page.textContent(`${card} [data-role="error"]`)).toContain(capture.lastError.message);
    // The sources table lists it by kind too.
    expect(await page.textContent('#sources tr[data-source="his"] [data-role="where"]')).toBe('PostgreSQL');
    await screenshot(page, 'capture-01-card-en');

    await page.click('#lang');
    await page.waitForFunction("document.querySelector('#capture h2')?.textContent === '数据库来源'");
    const zh: Record<string, string> = { starting: '启动中', retrying: '重试中', stopped: '已停止' };
    await expect.poll(async () => zh[(await page.getAttribute('[data-figure="capture.his.state"]', 'data-value'))!] === (await page.textContent('[data-figure="capture.his.state"]')), { timeout: 10_000 }).toBe(true);
    expect(await page.textContent('[data-figure="capture.his.lagMs"]')).toBe('尚未获知');
    await screenshot(page, 'capture-02-card-zh');
    await page.click('#lang');
  }, 60_000);

  it('fits a phone: the card is no wider than a 390 px screen', async () => {
    const phone = await openPage(browser, agentUrl, { width: 390, height: 844 });
    await phone.waitForSelector(`${card} [data-figure="capture.his.state"]`, { timeout: 15_000 });
    await phone.waitForTimeout(500);
    await screenshot(phone, 'capture-04-phone');
    const widest = await phone.$$eval('#capture *', (els) => els.filter((el) => el.getBoundingClientRect().right > 390 + 1).slice(0, 5).map((el) => `${el.tagName}.${el.className}`));
    expect(widest).toEqual([]);
    await phone.close();
  }, 30_000);

  it('exports the state one-hot on /metrics, the same state as /v1/status', async () => {
    const text = await (await fetch(`${agentUrl}/metrics`)).text();
    const state = (await his()).capture!.state;
    const hot = CAPTURE_STATES.filter((s) => new RegExp(`^wardline_agent_capture_state\\{source="his",kind="postgres",state="${s}"\\} 1$`, 'm').test(text));
    expect(hot).toHaveLength(1);
    expect(NO_SERVER_STATES).toContain(hot[0]);
    // The source may have moved between the two reads; it never goes back to starting.
    if (hot[0] !== state) expect(hot[0]).toBe('starting');
    expect(text).toMatch(/^wardline_agent_capture_transactions_total\{source="his"\} 0$/m);
    expect(text).toMatch(/^wardline_agent_capture_rows_per_second\{source="his"\} 0$/m);
    // Nothing known yet is exported as nothing, not as 0.
    expect(text).not.toMatch(/^wardline_agent_capture_lag_seconds\{/m);
    expect(text).not.toMatch(/^wardline_agent_capture_retained_bytes\{/m);
  });

  it('raises capture-stopped with the reason when the source stopped, and nothing while it only retries', async () => {
    const capture = (await his()).capture!;
    if (capture.state === 'stopped') {
      await expect.poll(async () => (await status()).alerts?.active.find((a) => a.rule === 'capture-stopped' && a.subject === 'his')?.message, { timeout: 15_000, interval: 500 }).toBe(`database source his stopped: ${capture.reason}`);
      await page.waitForSelector('#alerts [data-rule="capture-stopped"][data-subject="his"]', { timeout: 10_000 });
    } else {
      await new Promise((r) => setTimeout(r, 2_000));
      expect((await status()).alerts?.active.filter((a) => a.rule.startsWith('capture-')) ?? []).toEqual([]);
    }
  }, 30_000);

  it('prints one line for the source in `wardline agent status`', () => {
    const run = spawnSync(process.execPath, [CLI_PATH, 'agent', 'status', '--url', agentUrl], { encoding: 'utf8', timeout: 20_000 });
    const line = run.stdout.split('\n').find((l) => l.trimStart().startsWith('his ') && l.includes('postgres'));
    expect(line, run.stdout + run.stderr).toBeDefined();
    expect(line).toMatch(/^ {2}his\s+postgres\s+(starting|retrying|stopped)\s+lag -\s+rows\/s 0\s+retained -/);
  });

  it('says "last known" once the agent is killed, never the old state as now', async () => {
    await agent.kill('SIGKILL');
    await page.waitForSelector('#verdict[data-verdict="bad"]', { timeout: 15_000 });
    await page.waitForSelector(`${card}[data-level="unknown"]`, { timeout: 10_000 });
    expect(await page.textContent(`${card} [data-role="detail"]`)).toMatch(/^Last known: (Starting|Retrying|Stopped)\. The agent is unreachable since \d\d:\d\d:\d\d: this may no longer be true$/);
    await screenshot(page, 'capture-03-agent-killed');
  }, 30_000);
});
