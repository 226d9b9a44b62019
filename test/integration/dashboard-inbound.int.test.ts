// The downlink where the people on duty look: a real relay and agent process, a
// simulated internet hospital writing bookings, the simulated HIS taking them over
// MLLP, and the dashboard in a real browser (chromium). The Inbound card counts
// what the HIS accepted; says when the HIS is down (and since when) while nothing
// is quarantined for it; shows what waits at the relay with the time the relay
// reported it; lists an event the HIS kept failing as quarantined, and its Replay
// button delivers it once. Screenshots in test/artifacts/.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpHis, type InternetHospital } from '../../simulator/index.js';
import { findChromium, launchChromium, openPage, screenshot } from '../support/dashboard-browser.js';
import { internetHospitalFor, mllpBookingsChannel } from '../support/downlink-channels.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlinePair } from '../support/wardline-pair.js';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('dashboard inbound test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, or set WARDLINE_CHROMIUM)');
const HOSPITAL = 'inbound-dash-hospital';
const row = '#inbound tr[data-channel="bookings"]';

describe.skipIf(!CHROMIUM)('the Inbound card (real relay, agent, HIS and browser)', () => {
  const dir = makeTempDir('wardline-inbound-dash-');
  let pair: WardlinePair;
  let his: MllpHis;
  let browser: Browser;
  let page: Page;
  const apps: InternetHospital[] = [];
  const write = async (count: number, seed: string): Promise<InternetHospital> => {
    const app = internetHospitalFor(pair, HOSPITAL, { seed, patients: 100, slotsPerDoctor: 100_000, count, receiptWaitMs: 1000 });
    apps.push(app);
    app.start();
    while (app.records().filter((r) => r.id !== undefined).length < count) await new Promise((r) => setTimeout(r, 50));
    return app;
  };
  const figure = async (name: string): Promise<number> => Number(await page.getAttribute(`${row} [data-figure="${name}"]`, 'data-value'));

  beforeAll(async () => {
    his = new MllpHis({ port: 0, refuseFraction: 0, seed: 'inbound-dash' });
    await his.start();
    pair = await WardlinePair.create(dir.path, {
      hospital: HOSPITAL,
      vendorInbound: ['bookings'],
      agentSections: {
        inbound: [
          mllpBookingsChannel(his.port, {
            channel: { quarantineAfter: 2, retry: { initialMs: 100, maxMs: 500 } },
            sink: { connectTimeoutMs: 500, ackTimeoutMs: 2000 },
          }),
        ],
      },
    });
    await pair.startRelay();
    await pair.startAgent();
    browser = await launchChromium(CHROMIUM!);
    page = await openPage(browser, pair.agentHttp);
    page.on('dialog', (dialog) => void dialog.accept());
  }, 60_000);

  afterAll(async () => {
    for (const app of apps) await app.stop(0);
    await browser?.close();
    await pair?.stop();
    await his?.stop();
    dir.remove();
  }, 30_000);

  it('counts what the HIS accepted, and shows what waits at the relay with the time it was reported', async () => {
    const app = await write(10, 'accepted');
    await app.settled(20_000);
    await page.waitForSelector(row, { timeout: 20_000 });
    await expect.poll(() => figure('inbound-accepted'), { timeout: 15_000, interval: 250 }).toBe(10);
    expect(await figure('inbound-quarantined')).toBe(0);
    // The relay's report, with its time: 0 waiting there.
    await expect.poll(async () => page.textContent(`${row} [data-role="at-relay"]`), { timeout: 15_000, interval: 250 }).toMatch(/0\D.*\d{1,2}:\d{2}/);
    await screenshot(page, 'dashboard-inbound-flowing');
  }, 60_000);

  it('says the HIS is down, since when, and quarantines nothing for it; delivers once it is back', async () => {
    await his.setDown(true);
    const app = await write(3, 'his-down');
    await expect.poll(async () => page.getAttribute(`${row} [data-sink]`, 'data-sink'), { timeout: 15_000, interval: 250 }).toBe('down');
    expect(await page.getAttribute(row, 'data-problem')).toBe('yes');
    expect(await page.textContent(row)).toMatch(/down since/i);
    expect(await figure('inbound-quarantined')).toBe(0);
    expect(await figure('inbound-waiting')).toBe(3);
    await screenshot(page, 'dashboard-inbound-his-down');
    await his.setDown(false);
    await app.settled(20_000);
    await expect.poll(() => figure('inbound-accepted'), { timeout: 15_000, interval: 250 }).toBe(13);
    await expect.poll(async () => page.getAttribute(`${row} [data-sink]`, 'data-sink'), { timeout: 15_000, interval: 250 }).toBe('up');
  }, 60_000);

  it('lists an event the HIS kept failing as quarantined, and Replay delivers it once', async () => {
    his.aeNext(2, 'database deadlock');
    const app = await write(1, 'poison');
    const id = app.records()[0]!.id!;
    const quarantined = `#inbound [data-role="quarantined"] tr[data-id="${id}"]`;
    await page.waitForSelector(quarantined, { timeout: 15_000 });
    expect(await page.textContent(quarantined)).toContain('database deadlock');
    expect(await figure('inbound-quarantined')).toBe(1);
    await screenshot(page, 'dashboard-inbound-quarantined');
    await page.click(`${quarantined} button:first-of-type`);
    await app.settled(20_000);
    await expect.poll(() => figure('inbound-accepted'), { timeout: 15_000, interval: 250 }).toBe(14);
    await page.waitForSelector(quarantined, { state: 'detached', timeout: 15_000 });
    expect(his.decisions().filter((d) => d.controlId === id)).toHaveLength(1);
    expect(app.records()[0]!.receipts.map((r) => r.outcome)).toEqual(['quarantined', 'accepted']);
  }, 60_000);
});
