// "Down since" after a real ten-minute outage: the relay process stopped, the
// agent retrying every half second or so (hundreds of attempts, far more than
// the 50 transitions /v1/status lists), and the open dashboard must still say
// the link went down at the cut — not at the agent's start, not at the latest
// attempt. Then the relay comes back and the outage ends. In a file of its own:
// it runs for eleven minutes and must not hold up the other files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { findChromium, launchChromium, openPage, screenshot, shownClock } from '../support/dashboard-browser.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlinePair } from '../support/wardline-pair.js';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('dashboard long-outage test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, or set WARDLINE_CHROMIUM)');

/** The outage the issue describes: ten minutes. */
const OUTAGE_MS = 10 * 60 * 1000;

describe.skipIf(!CHROMIUM)('the dashboard through a ten-minute outage', () => {
  const dir = makeTempDir('wardline-long-outage-');
  let pair: WardlinePair;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    pair = await WardlinePair.create(dir.path, {
      hospital: 'long-outage-hospital',
      logLevel: 'warn',
      agentRelay: { connectTimeoutMs: 1000 },
      // Small waits between attempts: hundreds of reconnects in ten minutes.
      agentReplication: { backoff: { initialMs: 100, maxMs: 500 } },
    });
    await pair.startRelay();
    await pair.startAgent();
    browser = await launchChromium(CHROMIUM!);
    page = await openPage(browser, pair.agentHttp);
    page.on('crash', () => console.error('dashboard page crashed'));
  });

  afterAll(async () => {
    await browser?.close();
    await pair?.stop();
    dir.remove();
  });

  it('shows the cut as "down since" after ten minutes and hundreds of attempts, then ends the outage', async () => {
    await page.waitForSelector('[data-link="cloud"][data-online="true"]', { timeout: 30_000 });
    const startedAtMs = (await pair.agentStatus()).startedAtMs;
    // Some seconds between the agent's start and the cut, so the two cannot be confused.
    await page.waitForTimeout(3_000);
    const cutAtMs = Date.now();
    await pair.relay!.kill('SIGTERM');
    await page.waitForSelector('[data-link="cloud"][data-online="false"]', { timeout: 30_000 });
    const atCut = await pair.agentStatus();
    const downSinceMs = atCut.links[0]!.downSinceMs!;
    expect(downSinceMs).toBeGreaterThanOrEqual(cutAtMs);
    expect(downSinceMs).toBeLessThan(cutAtMs + 10_000);
    expect(downSinceMs - startedAtMs).toBeGreaterThan(2_500);

    // Ten minutes of retries; every two minutes the page still names the cut.
    const expectedTitle = (minutes: number) => new RegExp(`^Link to cloud down for (${minutes}|${minutes + 1}) min$`);
    for (let waited = 0; waited < OUTAGE_MS; waited += 120_000) {
      await page.waitForTimeout(Math.min(120_000, OUTAGE_MS - waited));
      await screenshot(page, 'long-outage-progress');
      expect(await page.textContent('#verdict .verdict-detail')).toContain(`down since ${shownClock(downSinceMs)}`);
    }
    const after = await pair.agentStatus();
    const link = after.links[0]!;
    expect(link.state).not.toBe('streaming');
    expect(link.downSinceMs).toBe(downSinceMs);
    // Hundreds of attempts, so the listed transitions no longer reach back to the cut.
    expect(link.reconnects - atCut.links[0]!.reconnects).toBeGreaterThan(200);
    expect(link.transitions.some((tr) => tr.from === 'streaming')).toBe(false);
    // A stopped relay's port refuses: the error says so.
    expect(link.lastError).toContain('connection refused');
    expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('bad');
    expect(await page.textContent('#verdict .verdict-title')).toMatch(expectedTitle(10));
    expect(await page.textContent('[data-link="cloud"] [data-role="since"]')).toContain(`since ${shownClock(downSinceMs)}`);
    expect(await page.textContent('[data-link="cloud"] .error-text')).toContain('connection refused');
    await screenshot(page, 'long-outage-10-min');

    await pair.startRelay();
    await page.waitForSelector('[data-link="cloud"][data-online="true"]', { timeout: 30_000 });
    expect((await pair.agentStatus()).links[0]!.downSinceMs).toBeNull();
  }, 12 * 60 * 1000);
});
