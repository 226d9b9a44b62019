// The dashboard never lies, in a real browser against a real relay
// and agent: amber "catching up, about N s" while a backlog drains through a
// narrow uplink after a cut, green once it is gone, then red "agent unreachable"
// with ✕ in the tab title within seconds of the agent being killed (SIGKILL: no
// goodbye on the live channel), in English and Chinese; and the page on a phone.
// Screenshots in test/artifacts/. The ten-minute outage is its own file
// (dashboard-long-outage.int.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { SimulatedHospital } from '../../simulator/index.js';
import { findChromium, launchChromium, openPage, screenshot } from '../support/dashboard-browser.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlinePair } from '../support/wardline-pair.js';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('dashboard never-lies test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, or set WARDLINE_CHROMIUM)');

/** The page must call a killed agent unreachable within this, in ms (3 s of grace, a second's render, a loaded machine). */
const UNREACHABLE_BOUND_MS = 15_000;

/** "14:03:07" in a text -> ms today, or undefined. */
function clockIn(text: string, nearMs: number): number | undefined {
  const match = /(\d\d):(\d\d):(\d\d)/.exec(text);
  if (!match) return undefined;
  const at = new Date(nearMs);
  at.setHours(Number(match[1]), Number(match[2]), Number(match[3]), 0);
  return at.getTime();
}

describe.skipIf(!CHROMIUM)('the dashboard never lies', () => {
  const dir = makeTempDir('wardline-never-lies-');
  let pair: WardlinePair;
  let browser: Browser;
  let page: Page;
  let hospital: SimulatedHospital | undefined;
  const verdictLevel = () => page.getAttribute('#verdict', 'data-verdict');
  const verdictTitle = async () => (await page.textContent('#verdict .verdict-title')) ?? '';

  beforeAll(async () => {
    pair = await WardlinePair.create(dir.path, {
      hospital: 'never-lies-hospital',
      logLevel: 'warn',
      agentRelay: { connectTimeoutMs: 1000 },
      // A narrow uplink, so the backlog of a cut takes a while to drain.
      agentSections: { bandwidth: { rate: '8kB/s' }, alerts: { linkLostAfter: '2s', settleAfter: '2s' } },
    });
    await pair.startRelay();
    await pair.startAgent();
    browser = await launchChromium(CHROMIUM!);
    page = await openPage(browser, pair.agentHttp);
  });

  afterAll(async () => {
    await hospital?.stop();
    await browser?.close();
    await pair?.stop();
    dir.remove();
  });

  it('is amber, "catching up, about N s", while the backlog of a cut drains, and green once it is gone', async () => {
    await page.waitForSelector('[data-link="cloud"][data-online="true"]', { timeout: 30_000 });
    await page.waitForSelector('#verdict[data-verdict="ok"]', { timeout: 15_000 });
    await pair.relay!.kill('SIGTERM');
    await page.waitForSelector('#verdict[data-verdict="bad"]', { timeout: 20_000 });
    hospital = new SimulatedHospital({ mllp: { host: '127.0.0.1', port: pair.ports.mllp }, ratePerSecond: 25, connections: 1, seed: 'never-lies' });
    hospital.start();
    await expect.poll(async () => (await pair.agentStatus()).feeds[0]!.backlog.events, { timeout: 30_000, interval: 500 }).toBeGreaterThan(400);
    await hospital.stop();
    hospital = undefined;

    await pair.startRelay();
    await page.waitForSelector('[data-link="cloud"][data-online="true"]', { timeout: 30_000 });
    // Amber at once, then with the estimate once the drain rate is measured.
    await page.waitForSelector('#verdict[data-verdict="warn"]', { timeout: 10_000 });
    await expect.poll(verdictTitle, { timeout: 20_000, interval: 250 }).toMatch(/^Catching up, about \d+ (s|min) to go$/);
    // The agent measures the net drain rate the estimate comes from.
    await expect.poll(async () => (await pair.agentStatus()).feeds[0]!.drain.eventsPerSecond ?? 0, { timeout: 15_000, interval: 500 }).toBeGreaterThan(0);
    expect(await page.title()).toMatch(/^! /);
    expect(await page.textContent('#verdict .verdict-detail')).toMatch(/^[\d,]+ events? waiting$/);
    await screenshot(page, 'never-lies-01-catching-up');

    await expect.poll(async () => (await pair.agentStatus()).feeds[0]!.backlog.events, { timeout: 180_000, interval: 1_000 }).toBe(0);
    await page.waitForSelector('#verdict[data-verdict="ok"]', { timeout: 20_000 });
    expect(await page.title()).toMatch(/^✓ /);
    const caughtUp = (await pair.agentStatus()).feeds[0]!;
    expect(caughtUp.caughtUpAtMs).toBeGreaterThan(Date.now() - 10_000);
    expect(caughtUp.drain.etaSeconds).toBe(0);
  }, 300_000);

  it('fits a phone: nothing wider than a 390 px screen, the ledger included', async () => {
    const phone = await openPage(browser, pair.agentHttp, { width: 390, height: 844 });
    await phone.waitForSelector('#verdict[data-verdict="ok"]', { timeout: 15_000 });
    expect(await phone.$$eval('#ledger tbody tr', (rows) => rows.length)).toBeGreaterThan(0);
    await phone.waitForTimeout(1_000);
    await screenshot(phone, 'never-lies-02-phone');
    const widest = await phone.$$eval('body *', (els) => {
      const over = els.filter((el) => el.getBoundingClientRect().right > 390 + 1);
      return over.slice(0, 5).map((el) => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`);
    });
    expect(widest).toEqual([]);
    expect(await phone.$eval('html', (html) => html.scrollWidth)).toBeLessThanOrEqual(390);
    await phone.close();
  }, 60_000);

  it('turns red, "agent unreachable since", with ✕ in the title, within seconds of the agent being killed', async () => {
    const killedAtMs = Date.now();
    await pair.agent!.kill('SIGKILL');
    await page.waitForSelector('#verdict[data-verdict="bad"]', { timeout: UNREACHABLE_BOUND_MS });
    const tookMs = Date.now() - killedAtMs;
    expect(tookMs).toBeLessThan(UNREACHABLE_BOUND_MS);
    const title = await verdictTitle();
    expect(title).toMatch(/^Agent unreachable since \d\d:\d\d:\d\d \(\d+ s\)$/);
    // Since the last frame the agent sent: the moment it died, to the second or so.
    const since = clockIn(title, killedAtMs)!;
    expect(Math.abs(since - killedAtMs)).toBeLessThan(3_000);
    expect(await page.textContent('#verdict .verdict-detail')).toContain('HL7 is not being accepted');
    expect(await page.title()).toMatch(/^✕ /);
    await page.waitForTimeout(1_500);
    await screenshot(page, 'never-lies-03-agent-killed');
    await page.click('#lang');
    await expect.poll(verdictTitle).toMatch(/^网关无法连接，自 \d\d:\d\d:\d\d/);
    expect(await page.textContent('#verdict .verdict-detail')).toContain('不接收 HL7');
    expect(await page.title()).toMatch(/^✕ /);
    await screenshot(page, 'never-lies-04-agent-killed-zh');
    await page.click('#lang');

    // Back: the page finds the agent again by itself, and the red goes.
    await pair.startAgent();
    await page.waitForSelector('[data-link="cloud"][data-online="true"]', { timeout: 30_000 });
    await expect.poll(verdictTitle, { timeout: 20_000 }).not.toMatch(/unreachable/);
  }, 120_000);
});
