// Cross-site request forgery and DNS rebinding against an agent with no
// http.admin, with real processes: a relay, an agent with two feeds, a vendor
// reading them, and Debian's chromium opening an attacker's page served from a
// second local HTTP server under another host name (attacker.test, so the page
// is cross-site to the agent at 127.0.0.1). The page tries to pause one feed
// and revoke the other the way a drive-by page can (no-cors text/plain fetches
// and a form post); nothing may change, and the vendor must still read both
// feeds. Then a DNS-rebinding attempt (requests that name a foreign host in
// Host: records, the CSRF token, pause, the live WebSocket) must be refused
// before any route, while the dashboard's own buttons keep working without a
// password.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';
import { rawRequest, sendHl7 } from '../support/web-attack.js';

const CHROMIUM = [process.env.WARDLINE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path): path is string => !!path && existsSync(path));
if (!CHROMIUM) console.warn('web CSRF test SKIPPED: no chromium at /usr/bin/chromium (or set WARDLINE_CHROMIUM)');

const adt = (n: number) => `MSH|^~\\&|HIS|H1|WARDLINE|H1|20260101120000||ADT^A01|ADT${n}|P|2.5\nPID|1||MRN${n}^^^H1^MR||DOE^JOHN\n`;
const oru = (n: number) => `MSH|^~\\&|LIS|H1|WARDLINE|H1|20260101120000||ORU^R01|ORU${n}|P|2.5\nPID|1||MRN${n}^^^H1^MR\nOBR|1||LAB${n}\n`;

/** The page another site serves: what a drive-by page can send to the agent without the agent's help. */
function attackPage(agent: string): string {
  return `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="post" target="sink" action="${agent}/v1/admin/feeds/clinical/pause"></form>
<script>
(async () => {
  const send = (path, body) => fetch('${agent}' + path, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body }).catch(() => undefined);
  await Promise.all([send('/v1/admin/feeds/clinical/pause', '{}'), send('/v1/admin/feeds/research/revoke', '{"reason":"drive-by"}'), send('/v1/admin/reconnect', '')]);
  // What a page could try with JSON: refused by the browser without a CORS preflight the agent answers.
  await fetch('${agent}/v1/admin/feeds/research/revoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
  document.getElementById('form').submit();
  setTimeout(() => { document.title = 'sent'; }, 1000);
})();
</script></body></html>`;
}

describe.skipIf(!CHROMIUM)('an agent without a password, attacked from another site', () => {
  const dir = makeTempDir('wardline-web-csrf-');
  let pair: WardlinePair;
  let attacker: Server;
  let attackerPort = 0;
  let browser: Browser;

  const feedState = async (feed: string) => (await pair.agentStatus()).feeds.find((f) => f.feed === feed)!.control.state;
  const vendorRead = async (feed: string) => (await fetch(`${pair.relayHttp}/v1/feeds/${feed}/events?after=0&limit=10`, { headers: { authorization: `Bearer ${PAIR_VENDOR_KEY}` } })).status;

  beforeAll(async () => {
    pair = await WardlinePair.create(dir.path, { hospital: 'csrf-hospital', logLevel: 'warn', extraFeeds: [{ name: 'research', streams: ['results'] }] });
    await pair.startRelay();
    await pair.startAgent();
    for (let i = 1; i <= 3; i++) {
      expect(await sendHl7(pair.ports.mllp, adt(i))).toContain('MSA|AA');
      expect(await sendHl7(pair.ports.mllp, oru(i))).toContain('MSA|AA');
    }
    await pair.waitForDrain(30_000);
    attacker = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(attackPage(pair.agentHttp));
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerPort = (attacker.address() as AddressInfo).port;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // attacker.test resolves to this machine: a second site, served by a second server.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP attacker.test 127.0.0.1'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await pair?.stop();
    dir.remove();
  });

  it('ignores pause and revoke sent by a page on another site, and the vendor still reads both feeds', async () => {
    expect(await vendorRead('clinical')).toBe(200);
    expect(await vendorRead('research')).toBe(200);
    const page = await browser.newPage();
    const answers: string[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(pair.agentHttp)) answers.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
    });
    await page.goto(`http://attacker.test:${attackerPort}/`);
    await page.waitForFunction('document.title === "sent"', undefined, { timeout: 15_000 });
    // A revoke the relay has to answer takes a moment; give it one.
    await new Promise((r) => setTimeout(r, 2_000));
    await page.close();
    expect(await feedState('clinical'), answers.join('\n')).toBe('active');
    expect(await feedState('research'), answers.join('\n')).toBe('active');
    expect(await vendorRead('research')).toBe(200);
    // The agent refused each one it saw (the browser itself stopped the JSON one at its preflight).
    expect(answers.length).toBeGreaterThan(0);
    for (const line of answers) expect(line).toMatch(/ (403|415)$/);
  }, 60_000);

  it('refuses a DNS-rebinding attacker: a foreign Host gets no record, no CSRF token, no pause and no live channel', async () => {
    const foreign = `attacker.test:${pair.ports.agentHttp}`;
    const asAttacker = { host: foreign, origin: `http://${foreign}`, 'sec-fetch-site': 'same-origin' };
    const record = await rawRequest(`${pair.agentHttp}/v1/records/adt/MRN1`, { headers: asAttacker });
    expect(record.status).toBe(421);
    expect(record.body).not.toContain('MRN1');
    const session = await rawRequest(`${pair.agentHttp}/v1/session`, { headers: asAttacker });
    expect(session.status).toBe(421);
    const csrfToken = session.status === 200 ? ((JSON.parse(session.body) as { csrfToken?: string }).csrfToken ?? '') : '';
    const pause = await rawRequest(`${pair.agentHttp}/v1/admin/feeds/clinical/pause`, {
      method: 'POST',
      headers: { ...asAttacker, 'content-type': 'application/json', 'x-wardline-csrf': csrfToken },
      body: '{}',
    });
    expect(pause.status).toBe(421);
    expect(await feedState('clinical')).toBe('active');
    const live = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${pair.ports.agentHttp}/v1/live`, { headers: { host: foreign }, origin: `http://${foreign}` });
      ws.once('message', (data) => {
        resolve(`frame ${String(JSON.parse(data.toString()).type)}`);
        ws.close();
      });
      ws.once('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`));
      ws.once('error', (error) => resolve(`error ${error.message}`));
    });
    expect(live).toBe('HTTP 421');
    // The names the agent is reached by still work.
    for (const host of [`127.0.0.1:${pair.ports.agentHttp}`, `localhost:${pair.ports.agentHttp}`, `[::1]:${pair.ports.agentHttp}`]) {
      expect((await rawRequest(`${pair.agentHttp}/v1/status`, { headers: { host } })).status, host).toBe(200);
    }
  });

  it('refuses an admin action without the CSRF token or as text/plain, even from the same origin', async () => {
    const pause = (headers: Record<string, string>) => rawRequest(`${pair.agentHttp}/v1/admin/feeds/clinical/pause`, { method: 'POST', headers, body: '{}' });
    const token = ((await (await fetch(`${pair.agentHttp}/v1/session`)).json()) as { csrfToken: string }).csrfToken;
    expect((await pause({ 'content-type': 'application/json' })).status).toBe(403);
    expect((await pause({ 'content-type': 'text/plain', 'x-wardline-csrf': token })).status).toBe(415);
    expect((await pause({ 'content-type': 'application/json', 'x-wardline-csrf': 'A'.repeat(token.length) })).status).toBe(403);
    expect((await pause({ 'content-type': 'application/json', 'x-wardline-csrf': token, origin: 'http://attacker.test' })).status).toBe(403);
    expect(await feedState('clinical')).toBe('active');
  });

  it('keeps the dashboard\'s own pause and resume buttons working, and warns that any web page can try to revoke', async () => {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${pair.agentHttp}/`);
    expect(await page.textContent('#open-warning')).toMatch(/revoke.*any web page/);
    const button = '[data-feed="clinical"] [data-role="pause"]';
    await page.waitForSelector(button, { timeout: 15_000 });
    await page.click(button);
    await page.waitForSelector('[data-feed="clinical"][data-paused="true"]', { timeout: 10_000 });
    expect(await feedState('clinical')).toBe('paused');
    await page.click(button);
    await page.waitForSelector('[data-feed="clinical"][data-paused="false"]', { timeout: 10_000 });
    expect(await feedState('clinical')).toBe('active');
    await page.close();
  }, 60_000);
});
