// The message browser in a real browser (Debian's chromium, playwright-core)
// against a real relay and agent, with a vendor reading the feed over the
// relay's HTTP API: a result sent over MLLP is found by its control id, and the
// page shows its journal seq, the ACK, when the relay acknowledged it and
// whether the vendor has read past it — first "not read", then, once the vendor
// has read the feed, "read". A message the agent answered AE appears in the
// refused list with its reason. Screenshots in test/artifacts/.
import { existsSync, mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../agent/http/admin-password.js';
import { frameMllp, MllpFramer } from '../../agent/hl7/index.js';
import type { MessageTrail } from '../../agent/operations/message-browser.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_FEED, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';

const PASSWORD = 'night duty at the information centre';
const TOKEN = 'message-browser-token-0123456789';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const CHROMIUM = [process.env.WARDLINE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path): path is string => !!path && existsSync(path));
if (!CHROMIUM) console.warn('message browser test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, or set WARDLINE_CHROMIUM)');

const CONTROL_ID = 'LIS-0210-42';

/** Sends one frame and returns the ACK's text. */
async function exchange(port: number, message: string): Promise<string> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const framer = new MllpFramer();
  const ack = await new Promise<Buffer>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      const [first] = framer.push(chunk);
      if (first) resolve(first);
    });
    socket.write(frameMllp(Buffer.from(message, 'utf8')));
  });
  socket.end();
  return ack.toString('utf8');
}

describe.skipIf(!CHROMIUM)('the message browser in a browser', () => {
  const dir = makeTempDir('wardline-messages-');
  let pair: WardlinePair;
  let browser: Browser;
  let page: Page;
  const authorized = { authorization: `Bearer ${TOKEN}` };
  const shoot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
  const api = async (path: string) => (await (await fetch(`${pair.agentHttp}${path}`, { headers: authorized })).json()) as { messages: MessageTrail[] };
  const trail = () => page.locator(`[data-role="trail"]`).first();
  const searchPage = async () => {
    await page.fill('#messages input[name="controlId"]', CONTROL_ID);
    await page.click('#messages button[type="submit"]');
    await trail().waitFor();
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    pair = await WardlinePair.create(dir.path, {
      hospital: 'browser-hospital',
      logLevel: 'warn',
      agentHttp: { admin: { passwordHash: await hashPassword(PASSWORD, { logN: 12 }), token: TOKEN, showMessages: true } },
    });
    await pair.startRelay();
    await pair.startAgent();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: 'en-GB' });
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await pair?.stop();
    dir.remove();
  });

  it('is behind the login and says which parameter it cannot use', async () => {
    expect((await fetch(`${pair.agentHttp}/v1/messages?controlId=X`)).status).toBe(401);
    expect((await fetch(`${pair.agentHttp}/v1/rejections`)).status).toBe(401);
    const bad = await fetch(`${pair.agentHttp}/v1/messages?from=yesterday`, { headers: authorized });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^from: expected an ISO 8601 time .* got "yesterday"/);
  });

  it('finds a result by its control id with its journal seq, the relay ack time and the vendor read position', async () => {
    await page.goto(pair.agentHttp);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${pair.agentHttp}/`), page.click('button[type=submit]')]);
    await page.waitForSelector('[data-link="cloud"][data-online="true"]', { timeout: 20_000 });

    const sentAtMs = Date.now();
    const ack = await exchange(pair.ports.mllp, ['MSH|^~\\&|LIS|H|WL|WL|20261202021000||ORU^R01|' + CONTROL_ID + '|P|2.5', 'PID|1||P-0042^^^H^MR||Li^Lei', 'OBR|1||R-0042', 'OBX|1|NM|GLU||5.6|mmol/L'].join('\r') + '\r');
    expect(ack).toMatch(new RegExp(`\\rMSA\\|AA\\|${CONTROL_ID}`));
    await pair.waitForDrain(30_000);

    // The relay has it; the vendor has not read yet: "not read", not "unknown" (this relay reports reads).
    const [found] = (await api(`/v1/messages?controlId=${CONTROL_ID}`)).messages;
    expect(found).toMatchObject({ controlId: CONTROL_ID, ack: 'AA', stream: 'results', key: 'R-0042' });
    await searchPage();
    expect(await trail().locator('[data-figure="journal-seq"]').textContent()).toBe(String(found!.seq));
    expect(await trail().locator('[data-figure="ack"]').textContent()).toBe('AA');
    const relayAck = trail().locator('[data-figure="relay-ack"]');
    // The page shows what the agent has saved of the acks (every replication.ackPersistIntervalMs): search again until it has.
    await expect
      .poll(async () => {
        await searchPage();
        return relayAck.getAttribute('data-acked');
      }, { timeout: 10_000 })
      .toBe('true');
    const ackedAt = Number(await relayAck.getAttribute('data-at'));
    expect(ackedAt).toBeGreaterThanOrEqual(sentAtMs);
    expect(ackedAt).toBeLessThanOrEqual(Date.now());
    expect(await relayAck.textContent()).toMatch(/^(by|between) /);
    await expect
      .poll(async () => {
        await searchPage();
        return trail().locator('[data-figure="vendor-read"]').first().getAttribute('data-state');
      }, { timeout: 15_000 })
      .toBe('none');
    expect(await trail().locator('[data-role="answer"]').textContent()).toBe(`${PAIR_FEED}: at the relay, not yet read by a vendor`);

    // The vendor reads the feed; within the relay's report interval the page says it read past the message.
    const events = await readWholeFeed(pair.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY);
    expect(events.some((e) => e.headers.controlId === CONTROL_ID)).toBe(true);
    await expect
      .poll(async () => {
        await searchPage();
        return trail().locator('[data-figure="vendor-read"]').first().getAttribute('data-state');
      }, { timeout: 20_000 })
      .toBe('read');
    const vendorRead = trail().locator('[data-figure="vendor-read"]').first();
    expect(await vendorRead.getAttribute('data-vendor')).toBe('test-vendor');
    expect(Number(await vendorRead.getAttribute('data-cursor'))).toBeGreaterThanOrEqual(found!.seq);
    expect(await trail().locator('[data-role="answer"]').textContent()).toBe(`${PAIR_FEED}: at the relay and read by test-vendor`);

    // http.admin.showMessages is on: the raw HL7 is one click away.
    await trail().locator('[data-role="show-raw"]').click();
    await expect.poll(() => trail().locator('[data-role="raw"]').textContent()).toContain(`ORU^R01|${CONTROL_ID}|`);
    await shoot('message-browser-found');
  }, 120_000);

  it('lists a refused message with its reason', async () => {
    const ack = await exchange(pair.ports.mllp, 'MSH|^~\\&|LIS|H|WL|WL|20261202021500||ORU^R01|BROKEN-7|P|2.5\rOBX|1|NM|GLU||5.6\r');
    expect(ack).toMatch(/\rMSA\|AE\|BROKEN-7/);
    const row = page.locator('[data-role="rejection"]', { hasText: 'BROKEN-7' });
    await expect
      .poll(async () => {
        await page.click('[data-role="refresh-rejections"]');
        return row.count();
      }, { timeout: 10_000 })
      .toBe(1);
    const cells = await row.locator('td').allTextContents();
    expect(cells[1]).toBe('lis');
    expect(cells[2]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(cells[4]).toBe('AE');
    expect(cells[5]!.length).toBeGreaterThan(5);
    // Nothing of it was journaled.
    expect((await api('/v1/messages?controlId=BROKEN-7')).messages).toEqual([]);
    await page.locator('#messages').scrollIntoViewIfNeeded();
    await shoot('message-browser-rejected');
  }, 60_000);
});
