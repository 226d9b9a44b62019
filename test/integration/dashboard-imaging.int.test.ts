// An imaging feed on a real agent, seen where the operator looks: a DICOM source
// takes a small study from dcmtk's storescu while the feed's relay cannot be
// reached, so every instance waits. /v1/status carries the feed's imaging
// transfer (studies, instances and bytes waiting), and the dashboard in a real
// browser (chromium) draws its card from the same figures in English and
// Chinese, with "when the link is back" instead of a drain time; once the agent
// is killed the card says "last known", never the old state as now. Every state's
// wording is tested from sample values in test/unit/dashboard-imaging-view.test.ts.
// Screenshots in test/artifacts/.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus, FeedStatus } from '../../agent/operations/agent-status.js';
import { findChromium, launchChromium, openPage, screenshot } from '../support/dashboard-browser.js';
import { writeDicomStudy } from '../support/dicom-files.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlineProcess, waitForHttp } from '../support/wardline-process.js';

const run = promisify(execFile);
const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('dashboard imaging test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, or set WARDLINE_CHROMIUM)');

describe.skipIf(!CHROMIUM)('an imaging feed on the dashboard and /v1/status (real agent, dcmtk, real browser)', () => {
  const dir = makeTempDir('wardline-imaging-dash-');
  let agent: WardlineProcess;
  let browser: Browser;
  let page: Page;
  let agentUrl: string;
  let study: { paths: string[]; bytes: number; studyUid: string };
  const card = '[data-imaging="pacs-cloud"]';
  const feed = async (): Promise<FeedStatus> => ((await (await fetch(`${agentUrl}/v1/status`)).json()) as AgentStatus).feeds.find((f) => f.feed === 'pacs-cloud')!;

  beforeAll(async () => {
    const [httpPort, dicomPort, deadRelayPort] = [await freePort(), await freePort(), await freePort()];
    agentUrl = `http://127.0.0.1:${httpPort}`;
    writeFileSync(
      join(dir.path, 'agent.yaml'),
      `hospital: { id: imaging-dash-h, name: "Imaging Hospital" }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${httpPort}" }
sources:
  - { kind: dicom, name: pacs, listen: "127.0.0.1:${dicomPort}", aeTitle: WARDLINE, acceptCallingAeTitles: [MODALITY] }
relays: [{ name: cloud, address: "127.0.0.1:${deadRelayPort}", secret: "imaging-dash-secret-0001", allowPlaintext: true, connectTimeoutMs: 1000 }]
feeds: [{ name: pacs-cloud, relay: cloud, streams: [imaging], class: bulk }]
log: { level: warn }
`,
    );
    agent = new WardlineProcess(['agent', 'start', '--config', join(dir.path, 'agent.yaml')], join(dir.path, 'agent.log'));
    await waitForHttp(`${agentUrl}/healthz`, agent);
    const files = join(dir.path, 'study');
    mkdirSync(files);
    study = writeDicomStudy(files, { study: 71, series: 2, perSeries: 2, rows: 256, columns: 256, frames: 2 });
    await run('storescu', ['-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(dicomPort), ...study.paths]);
    browser = await launchChromium(CHROMIUM!);
    page = await openPage(browser, agentUrl);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill('SIGKILL');
    dir.remove();
  });

  it('serves what waits on /v1/status: one study, its four instances, their bytes', async () => {
    await expect.poll(async () => (await feed()).imaging?.instancesWaiting, { timeout: 15_000, interval: 300 }).toBe(4);
    const imaging = (await feed()).imaging!;
    expect(imaging.studiesWaiting).toBe(1);
    // Every byte of every instance waits: nothing reached a relay.
    expect(imaging.bytesWaiting).toBeGreaterThanOrEqual(study.bytes - 4 * 1024);
    expect(imaging.bytesWaiting).toBeLessThanOrEqual(study.bytes + 4 * 1024);
    expect([imaging.chunksSent, imaging.chunkBytesSent, imaging.dedupedBytes, imaging.problem]).toEqual([0, 0, 0, null]);
  });

  it('draws a card from the same figures, in English and Chinese', async () => {
    await page.waitForSelector(`${card} [data-figure="imaging.pacs-cloud.studiesWaiting"]`, { timeout: 20_000 });
    expect(await page.isVisible('#imaging')).toBe(true);
    await expect.poll(async () => page.getAttribute('[data-figure="imaging.pacs-cloud.studiesWaiting"]', 'data-value'), { timeout: 15_000 }).toBe('1');
    const imaging = (await feed()).imaging!;
    expect(await page.getAttribute('[data-figure="imaging.pacs-cloud.bytesWaiting"]', 'data-value')).toBe(String(imaging.bytesWaiting));
    expect(await page.textContent(`${card} [data-role="instances"]`)).toBe('4 instances');
    expect(await page.textContent(`${card} [data-role="state"]`)).toBe('Waiting for the link');
    expect(await page.getAttribute(card, 'data-level')).toBe('warn');
    expect(await page.textContent('[data-figure="imaging.pacs-cloud.etaSeconds"]')).toBe('when the link is back');
    expect(await page.textContent('[data-figure="imaging.pacs-cloud.dedupedBytes"]')).toBe('0 B');
    expect(await page.isHidden(`${card} [data-role="problem"]`)).toBe(true);
    await screenshot(page, 'imaging-01-card-en');

    await page.click('#lang');
    await page.waitForFunction("document.querySelector('#imaging h2')?.textContent === '影像（DICOM）'");
    expect(await page.textContent(`${card} [data-role="state"]`)).toBe('等待链路恢复');
    expect(await page.textContent(`${card} [data-role="instances"]`)).toBe('4 个实例');
    await screenshot(page, 'imaging-02-card-zh');
    await page.click('#lang');
  }, 60_000);

  it('fits a phone: the card is no wider than a 390 px screen', async () => {
    const phone = await openPage(browser, agentUrl, { width: 390, height: 844 });
    await phone.waitForSelector(`${card} [data-figure="imaging.pacs-cloud.studiesWaiting"]`, { timeout: 15_000 });
    await phone.waitForTimeout(500);
    const widest = await phone.$$eval('#imaging *', (els) => els.filter((el) => el.getBoundingClientRect().right > 390 + 1).slice(0, 5).map((el) => `${el.tagName}.${el.className}`));
    expect(widest).toEqual([]);
    await phone.close();
  }, 30_000);

  it('says "last known" once the agent is killed, never the old state as now', async () => {
    await agent.kill('SIGKILL');
    await page.waitForSelector(`${card}[data-level="unknown"]`, { timeout: 15_000 });
    expect(await page.textContent(`${card} [data-role="state"]`)).toMatch(/^Last known\. The agent is unreachable since \d\d:\d\d:\d\d: this may no longer be true$/);
    expect(await page.textContent('[data-figure="imaging.pacs-cloud.etaSeconds"]')).toBe('unknown');
    await screenshot(page, 'imaging-03-agent-killed');
  }, 30_000);
});
