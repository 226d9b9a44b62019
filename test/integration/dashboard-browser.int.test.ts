// The dashboard in a real browser (Debian's chromium, driven by playwright-core),
// against a real relay and agent whose link runs through a fault proxy: log in,
// watch the link stream, cut it, see the page say OFFLINE and the backlog grow,
// check every figure on the page against /v1/status and /metrics, restore the
// line and watch the backlog drain to zero, and use pause and resume. Screenshots
// of each stage are saved in test/artifacts/ (gitignored) for people to look at.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { hashPassword } from '../../agent/http/admin-password.js';
import { SimulatedHospital } from '../../simulator/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlinePair } from '../support/wardline-pair.js';

const PASSWORD = 'information centre 24x7';
const TOKEN = 'browser-test-token-0123456789';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

/** Debian's chromium, where .ci/run installs it; WARDLINE_CHROMIUM overrides. */
function findChromium(): string | undefined {
  return [process.env.WARDLINE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path): path is string => !!path && existsSync(path));
}

const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.warn('dashboard browser test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, as .ci/run does, or set WARDLINE_CHROMIUM)');
}

/** One figure on the page: data-figure name -> raw value and shown text. */
type Figures = Map<string, { value: string; text: string }>;

async function readFigures(page: Page): Promise<Figures> {
  // Runs in the page; the test's own types know no DOM, hence the attribute calls.
  const rows = await page.$$eval('[data-figure]', (els) => els.map((e) => [e.getAttribute('data-figure') ?? '', e.getAttribute('data-value') ?? '', e.textContent ?? ''] as const));
  return new Map(rows.map(([name, value, text]) => [name, { value, text }]));
}

/** Prometheus text -> `name{labels}` -> value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

/** "12,345" as shown -> 12345 */
const shownNumber = (text: string) => Number(text.replace(/[,\s]/g, ''));

describe.skipIf(!CHROMIUM)('the dashboard in a browser', () => {
  const dir = makeTempDir('wardline-browser-');
  let pair: WardlinePair;
  let proxy: FaultProxy;
  let browser: Browser;
  let page: Page;
  let hospital: SimulatedHospital | undefined;

  const authorized = { authorization: `Bearer ${TOKEN}` };
  const status = async (): Promise<AgentStatus> => (await (await fetch(`${pair.agentHttp}/v1/status`, { headers: authorized })).json()) as AgentStatus;
  const metrics = async () => parseMetrics(await (await fetch(`${pair.agentHttp}/metrics`)).text());
  const shoot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
  const backlogOnPage = async () => Number(await page.getAttribute('[data-figure="feed.clinical.backlog.events"]', 'data-value'));

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const proxyPort = await freePort();
    pair = await WardlinePair.create(dir.path, {
      hospital: 'browser-hospital',
      logLevel: 'warn',
      relayAddressForAgent: () => `127.0.0.1:${proxyPort}`,
      agentRelay: { connectTimeoutMs: 1000 },
      agentHttp: { admin: { passwordHash: await hashPassword(PASSWORD, { logN: 12 }), token: TOKEN } },
      agentSections: { alerts: { linkLostAfter: '2s', settleAfter: '3s', lag: '20s', quietPeriods: { http: '1h' } } },
    });
    await pair.startRelay();
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: pair.ports.relayGrpc }, listenPort: proxyPort });
    await pair.startAgent();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // A wall screen's width; the laptop view is checked at the end.
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, locale: 'en-GB' });
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  });

  afterAll(async () => {
    await hospital?.stop();
    await browser?.close();
    await pair?.stop();
    await proxy?.stop();
    dir.remove();
  });

  it('asks for the password, then shows the link streaming and the feed caught up', async () => {
    await page.goto(pair.agentHttp);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#password', 'not the password');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.error')).toContain('Wrong password');
    await shoot('01-login');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${pair.agentHttp}/`), page.click('button[type=submit]')]);
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'wardline_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    await page.waitForSelector('[data-link="cloud"][data-online="true"]', { timeout: 20_000 });
    hospital = new SimulatedHospital({ mllp: { host: '127.0.0.1', port: pair.ports.mllp }, ratePerSecond: 25, connections: 2, seed: 'dashboard-browser' });
    hospital.start();
    await expect.poll(async () => shownNumber((await page.textContent('[data-figure="source.lis.received"]')) ?? '0'), { timeout: 15_000 }).toBeGreaterThan(40);
    await page.waitForSelector('#verdict[data-verdict="ok"]');
    // A feed without a policy says so on its card: identifiers leave in clear.
    expect((await status()).feeds.find((f) => f.feed === 'clinical')?.policyVersion).toBe(0);
    expect(await page.textContent('[data-feed="clinical"] [data-role="no-policy"]')).toContain('identifiers leave in clear');
    // Let the charts gather a few points.
    await page.waitForTimeout(3_000);
    await shoot('02-streaming');
  }, 90_000);

  it('turns the link OFFLINE when the line is cut, and shows the backlog growing and the alert', async () => {
    proxy.refuse();
    await page.waitForSelector('[data-link="cloud"][data-online="false"]', { timeout: 20_000 });
    expect(await page.textContent('[data-link="cloud"] [data-role="online"]')).toBe('OFFLINE');
    await expect.poll(backlogOnPage, { timeout: 10_000 }).toBeGreaterThan(20);
    const first = await backlogOnPage();
    await expect.poll(backlogOnPage, { timeout: 10_000 }).toBeGreaterThan(first + 20);
    await page.waitForSelector('#verdict[data-verdict="bad"]');
    expect(await page.textContent('#verdict .verdict-title')).toMatch(/^Link to cloud down for \d+ s$/);
    // One alert for the cut, however the agent retries meanwhile.
    await page.waitForSelector('#alerts li[data-rule="link"][data-state="firing"]', { timeout: 15_000 });
    await page.waitForTimeout(2_500);
    await shoot('03-link-down');
    expect(await page.$$eval('#alerts li[data-rule="link"]', (els) => els.length)).toBe(1);
  }, 60_000);

  it('shows the same figures as /v1/status and /metrics', async () => {
    // Stop ingest, so the figures hold still while they are compared.
    await hospital!.stop();
    hospital = undefined;
    let mismatches: string[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      const figures = await readFigures(page);
      const s = await status();
      const m = await metrics();
      const feed = s.feeds.find((f) => f.feed === 'clinical')!;
      const lis = s.sources.find((x) => x.name === 'lis')!;
      const labels = '{feed="clinical",relay="cloud"}';
      const expected: [string, number, number | undefined][] = [
        ['feed.clinical.backlog.events', feed.backlog.events, m.get(`wardline_agent_feed_backlog_events${labels}`)],
        ['feed.clinical.backlog.bytes', feed.backlog.bytes, m.get(`wardline_agent_feed_backlog_bytes${labels}`)],
        ['feed.clinical.ackedSeq', feed.ackedSeq, m.get(`wardline_agent_feed_acked_seq${labels}`)],
        ['source.lis.received', lis.received, m.get('wardline_agent_source_received_total{source="lis"}')],
        ['source.lis.acknowledged', lis.acknowledged, m.get('wardline_agent_source_acknowledged_total{source="lis"}')],
        ['source.lis.rejected', lis.rejected, m.get('wardline_agent_source_rejected_total{source="lis"}')],
        ['disk.freeBytes', s.disk!.freeBytes!, m.get('wardline_agent_disk_free_bytes')],
      ];
      mismatches = [];
      for (const [name, fromStatus, fromMetrics] of expected) {
        const shown = figures.get(name);
        if (Number(shown?.value) !== fromStatus || fromMetrics !== fromStatus) mismatches.push(`${name}: page ${shown?.value}, status ${fromStatus}, metrics ${fromMetrics}`);
      }
      // What is shown is that value, formatted.
      for (const name of ['feed.clinical.backlog.events', 'feed.clinical.ackedSeq', 'source.lis.received']) {
        const shown = figures.get(name)!;
        if (shownNumber(shown.text) !== Number(shown.value)) mismatches.push(`${name}: shows "${shown.text}" for ${shown.value}`);
      }
      // Lag grows by the second: equal within the sampling interval.
      const lagShown = Number(figures.get('feed.clinical.lagSeconds')!.value);
      const lagMetric = m.get(`wardline_agent_feed_lag_seconds${labels}`)!;
      if (Math.abs(lagShown - feed.lagSeconds) > 3 || Math.abs(lagMetric - feed.lagSeconds) > 3) mismatches.push(`lag: page ${lagShown}, status ${feed.lagSeconds}, metrics ${lagMetric}`);
      const online = (await page.getAttribute('[data-link="cloud"]', 'data-online')) === 'true';
      if (online !== (s.links[0]!.state === 'streaming') || m.get('wardline_agent_link_up{relay="cloud"}') !== (online ? 1 : 0)) mismatches.push(`link: page online ${online}, status ${s.links[0]!.state}`);
      if (mismatches.length === 0) break;
      await page.waitForTimeout(500);
    }
    expect(mismatches).toEqual([]);
    expect(await backlogOnPage()).toBeGreaterThan(0);
  }, 60_000);

  it('drains the backlog to zero once the line is restored', async () => {
    await proxy.heal();
    await page.waitForSelector('[data-link="cloud"][data-online="true"]', { timeout: 20_000 });
    await expect.poll(backlogOnPage, { timeout: 30_000 }).toBe(0);
    const s = await status();
    expect(s.feeds[0]!.ackedSeq).toBe(s.journal.headSeq);
    expect(Number(await page.getAttribute('[data-figure="feed.clinical.ackedSeq"]', 'data-value'))).toBe(s.journal.headSeq);
    await page.waitForSelector('#alerts li[data-rule="link"][data-state="resolved"]', { timeout: 15_000 });
    await page.waitForSelector('#verdict[data-verdict="ok"]', { timeout: 15_000 });
    await page.waitForTimeout(1_500);
    await shoot('04-drained');
  }, 60_000);

  it('pauses and resumes the feed with its buttons, through the admin endpoints', async () => {
    page.on('dialog', (dialog) => void dialog.accept());
    const button = '[data-feed="clinical"] [data-role="pause"]';
    expect(await page.textContent(button)).toBe('Pause');
    const [pause] = await Promise.all([page.waitForRequest((r) => r.url().endsWith('/v1/admin/feeds/clinical/pause')), page.click(button)]);
    expect(pause.method()).toBe('POST');
    if ((await pause.response())?.ok()) {
      await page.waitForSelector('[data-feed="clinical"][data-paused="true"]', { timeout: 10_000 });
      expect(await page.textContent(button)).toBe('Resume');
      await shoot('05-paused');
      const [resume] = await Promise.all([page.waitForRequest((r) => r.url().endsWith('/v1/admin/feeds/clinical/resume')), page.click(button)]);
      expect(resume.method()).toBe('POST');
      await page.waitForSelector('[data-feed="clinical"][data-paused="false"]', { timeout: 10_000 });
    } else {
      // An agent without pause says so; the page must not pretend otherwise.
      await page.waitForSelector('.toast-error');
    }
  }, 60_000);

  it('reads in Chinese, and on a laptop screen', async () => {
    await page.click('#lang');
    await expect.poll(() => page.textContent('#verdict .verdict-title')).toBe('云端副本已同步');
    expect(await page.textContent('[data-link="cloud"] [data-role="online"]')).toBe('在线');
    await shoot('06-chinese');
    await page.click('#lang');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.waitForTimeout(1_000);
    await shoot('07-laptop');
    // Nothing wider than the screen: no sideways scrolling on a laptop.
    expect(await page.$eval('html', (html) => html.scrollWidth)).toBeLessThanOrEqual(1280);
  }, 30_000);
});
