// The agent's login, what it guards and what it leaves open, the live channel,
// /readyz, and `wardline agent status` as a check — with a real agent on
// 127.0.0.1 (no relay: its link stays down, which the check must report).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { hashPassword } from '../../agent/http/admin-password.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlineProcess } from '../support/wardline-process.js';

const PASSWORD = 'night shift wall screen';
const TOKEN = 'ops-token-0123456789abcdef';

/** Opens /v1/live with `headers`; resolves with the first frame, or rejects with the HTTP status of a refused upgrade. */
function firstFrame(url: string, headers: Record<string, string> = {}): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/live', { headers });
    ws.once('message', (data) => {
      resolve(JSON.parse(data.toString()) as Record<string, any>);
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

async function agentConfig(dir: string, http: string): Promise<string> {
  const file = join(dir, 'agent.yaml');
  const closedPort = await freePort();
  writeFileSync(
    file,
    `hospital: { id: auth-hospital, name: "示例医院" }
dataDir: ./agent-data
http: ${http}
sources: [{ kind: mllp, name: lis, listen: "127.0.0.1:0" }]
relays: [{ name: cloud, address: "127.0.0.1:${closedPort}", secret: "auth-secret-0123456789", allowPlaintext: true, connectTimeoutMs: 500 }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
replication: { backoff: { initialMs: 200, maxMs: 500 } }
alerts: { lag: 30s }
`,
  );
  return file;
}

describe('dashboard login', () => {
  const dir = makeTempDir('wardline-auth-');
  let agent: RunningAgent;
  let url: string;

  beforeAll(async () => {
    const hash = await hashPassword(PASSWORD, { logN: 12 });
    agent = await startAgent(await agentConfig(dir.path, JSON.stringify({ listen: '127.0.0.1:0', admin: { passwordHash: hash, token: TOKEN } })), { logger: pino({ level: 'silent' }) });
    url = `http://127.0.0.1:${agent.httpPort}`;
  });

  afterAll(async () => {
    await agent?.stop();
    dir.remove();
  });

  const login = (password: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ password }) });

  it('sends a visitor without a session to the login form', async () => {
    const root = await fetch(`${url}/`, { redirect: 'manual' });
    expect(root.status).toBe(303);
    expect(root.headers.get('location')).toBe('/login');
    const form = await fetch(`${url}/login`);
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('name="password"');
  });

  it('refuses a wrong password and gives the right one an HttpOnly, SameSite=Strict session cookie', async () => {
    const wrong = await login('guess');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const right = await login(PASSWORD);
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/');
    const cookie = right.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^wardline_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    const session = cookie.split(';')[0]!;
    const page = await fetch(`${url}/`, { headers: { cookie: session } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('/assets/app/dashboard.js');
    expect(html).toContain('示例医院');
    // Logging out ends the session.
    const out = await fetch(`${url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: session } });
    expect(out.headers.get('location')).toBe('/login');
    expect((await fetch(`${url}/v1/status`, { headers: { cookie: session } })).status).toBe(401);
  });

  it('guards status and the admin endpoints, accepting the session (same origin) or the bearer token', async () => {
    const session = (await login(PASSWORD)).headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${url}/v1/status`)).status).toBe(401);
    expect((await fetch(`${url}/v1/status`, { headers: { cookie: session } })).status).toBe(200);
    expect((await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer not-the-token-000000' } })).status).toBe(401);

    const reconnect = (headers: Record<string, string>) => fetch(`${url}/v1/admin/reconnect`, { method: 'POST', headers });
    expect((await reconnect({})).status).toBe(401);
    expect((await reconnect({ cookie: session, origin: 'http://evil.example' })).status).toBe(401);
    // A browser's admin action is same-origin JSON with the session's CSRF token.
    const { csrfToken } = (await (await fetch(`${url}/v1/session`, { headers: { cookie: session } })).json()) as { csrfToken: string };
    expect((await reconnect({ cookie: session, origin: url })).status).toBe(415);
    expect((await reconnect({ cookie: session, origin: url, 'content-type': 'application/json' })).status).toBe(403);
    expect((await reconnect({ cookie: session, origin: url, 'content-type': 'application/json', 'x-wardline-csrf': csrfToken })).status).toBe(202);
    expect((await reconnect({ authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    // The pause endpoint sits behind the same guard.
    expect((await fetch(`${url}/v1/admin/feeds/clinical/pause`, { method: 'POST' })).status).toBe(401);
  });

  it('leaves /healthz, /readyz and /metrics open for monitoring, and the data plane to the listen address', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      ready: true,
      checks: [
        { name: 'journal', ok: true, detail: null },
        { name: 'source lis', ok: true, detail: null },
        { name: 'source http', ok: true, detail: null },
      ],
    });
    const ingest = await fetch(`${url}/v1/ingest/adt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: '110105199001011234', name: '张三' }) });
    expect(ingest.status).toBe(200);
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    // Prometheus conventions, and nothing from a message in any name or label.
    for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE '))) {
      const [, , name, type] = line.split(' ');
      // Wardline's own metrics carry the program's prefix; Node's and the process's keep their standard names.
      expect(name).toMatch(/^(wardline_agent_|process_|nodejs_)[a-z0-9_]+$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
    }
    expect(text).not.toMatch(/110105199001011234|张三/);
  });

  it('opens the live channel only for a login, and sends a snapshot first', async () => {
    await expect(firstFrame(url)).rejects.toThrow('HTTP 401');
    const session = (await login(PASSWORD)).headers.get('set-cookie')!.split(';')[0]!;
    await expect(firstFrame(url, { cookie: session, origin: 'http://evil.example' })).rejects.toThrow('HTTP 401');
    const snapshot = await firstFrame(url, { cookie: session, origin: url });
    expect(snapshot.type).toBe('snapshot');
    expect(snapshot.context).toMatchObject({ admin: true, loginRequired: true });
    expect(snapshot.status.hospital.id).toBe('auth-hospital');
    expect(Object.keys(snapshot.timelines)).toEqual(['cloud']);
    expect((await firstFrame(url, { authorization: `Bearer ${TOKEN}` })).type).toBe('snapshot');
  });

  it('serves the page scripts and uPlot from the agent itself', async () => {
    for (const path of ['/assets/app/dashboard.js', '/assets/app/charts.js', '/assets/uplot/uPlot.esm.js', '/assets/uplot/uPlot.min.css']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      const etag = response.headers.get('etag')!;
      expect((await fetch(`${url}${path}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    }
    expect((await fetch(`${url}/assets/app/../../main.js`)).status).toBe(404);
  });

  it('`wardline agent status` needs the token, then fails the check while the link is down', async () => {
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const cli = new WardlineProcess(['agent', 'status', '--url', url, ...args], undefined, env);
      const { code } = await cli.exited;
      return { code, output: cli.recentOutput };
    };
    const refused = await run(['--json']);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('requires a login');
    const checked = await run(['--json'], { WARDLINE_ADMIN_TOKEN: TOKEN });
    expect(checked.code).toBe(1);
    const json = JSON.parse(checked.output) as { check: { ok: boolean; problems: { kind: string }[] }; feeds: { lagThresholdSeconds: number }[] };
    expect(json.check.ok).toBe(false);
    expect(json.check.problems.map((p) => p.kind)).toEqual(['link']);
    expect(json.feeds[0]!.lagThresholdSeconds).toBe(30);
    const text = await run(['--token', TOKEN]);
    expect(text.code).toBe(1);
    expect(text.output).toMatch(/check: FAILED\n {2}link to cloud is (backoff|connecting)/);
  });
});

describe('dashboard without http.admin', () => {
  const dir = makeTempDir('wardline-open-');
  let agent: RunningAgent;
  let url: string;
  const logs: { level: number; msg: string }[] = [];

  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as { level: number; msg: string }) });
    agent = await startAgent(await agentConfig(dir.path, '{ listen: "127.0.0.1:0" }'), { logger });
    url = `http://127.0.0.1:${agent.httpPort}`;
  });

  afterAll(async () => {
    await agent?.stop();
    dir.remove();
  });

  it('is open, warns in the log and on the page, and keeps the admin endpoints working without credentials', async () => {
    expect(logs.some((l) => l.level === 40 && l.msg.startsWith('http.admin is not configured: the dashboard and the admin endpoints'))).toBe(true);
    expect(logs.some((l) => l.level === 40 && /revoke.*any web page/.test(l.msg))).toBe(true);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="open-warning" class="banner" data-i18n="open.warning"><\/div>/);
    expect((await fetch(`${url}/v1/status`)).status).toBe(200);
    // Open, but not to other sites: an admin action needs the CSRF token the page holds.
    expect((await fetch(`${url}/v1/admin/reconnect`, { method: 'POST' })).status).toBe(415);
    const { csrfToken } = (await (await fetch(`${url}/v1/session`)).json()) as { csrfToken: string };
    expect((await fetch(`${url}/v1/admin/reconnect`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-wardline-csrf': csrfToken }, body: '{}' })).status).toBe(202);
    expect((await fetch(`${url}/login`, { redirect: 'manual' })).headers.get('location')).toBe('/');
    const snapshot = await firstFrame(url);
    expect(snapshot.context).toMatchObject({ admin: true, loginRequired: false });
  });

  it('stops cleanly with a dashboard open, telling the page it is going away', async () => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/live`);
    await new Promise((resolve) => ws.once('message', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const started = Date.now();
    await agent.stop();
    expect(await closed).toBe(1001);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
