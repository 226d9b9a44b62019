// HTTPS on the agent's own listener (http.tls), with real processes and a
// certificate made the way `wardline cert` makes it: the dashboard, the login
// and the live channel answer over TLS only, the session cookie is Secure, and
// nothing (the password, the cookie, a record) is accepted in clear.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { hashPassword } from '../../agent/http/admin-password.js';
import { createCertificateAuthority, issueServerCertificate } from '../../cloud-relay/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlinePair } from '../support/wardline-pair.js';
import { WardlineProcess } from '../support/wardline-process.js';
import { rawRequest, waitForHttps } from '../support/web-attack.js';

const PASSWORD = 'records room key';

describe('the agent dashboard over HTTPS', () => {
  const dir = makeTempDir('wardline-web-https-');
  let pair: WardlinePair;
  let agent: WardlineProcess;
  let ca: Buffer;
  let base: string;

  beforeAll(async () => {
    await createCertificateAuthority(join(dir.path, 'ca'));
    const issued = await issueServerCertificate(join(dir.path, 'ca'), join(dir.path, 'agent-tls'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    ca = readFileSync(issued.caFile);
    pair = await WardlinePair.create(dir.path, {
      hospital: 'https-hospital',
      logLevel: 'warn',
      agentHttp: { tls: { certFile: issued.certFile, keyFile: issued.keyFile }, admin: { passwordHash: await hashPassword(PASSWORD, { logN: 12 }) } },
    });
    await pair.startRelay();
    agent = new WardlineProcess(['agent', 'start', '--config', join(dir.path, 'agent.yaml')], join(dir.path, 'agent.log'));
    base = `https://127.0.0.1:${pair.ports.agentHttp}`;
    await waitForHttps(`${base}/healthz`, ca).catch((error: Error) => {
      throw new Error(`${error.message}\n${agent.recentOutput}`);
    });
  }, 60_000);

  afterAll(async () => {
    await agent?.kill('SIGTERM');
    await pair?.stop();
    dir.remove();
  });

  it('logs in over TLS and sets the session cookie Secure', async () => {
    const form = await rawRequest(`${base}/login`, { ca });
    expect(form.status).toBe(200);
    const login = await rawRequest(`${base}/login`, { ca, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ password: PASSWORD }).toString() });
    expect(login.status).toBe(303);
    const cookie = login.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/^wardline_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    const session = cookie.split(';')[0]!;
    const page = await rawRequest(`${base}/`, { ca, headers: { cookie: session } });
    expect(page.status).toBe(200);
    // The live channel is wss:// on the same port.
    const frame = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${pair.ports.agentHttp}/v1/live`, { ca, headers: { cookie: session }, origin: base });
      ws.once('message', (data) => {
        resolve(String(JSON.parse(data.toString()).type));
        ws.close();
      });
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
    expect(frame).toBe('snapshot');
  });

  it('does not take the password in clear on the same port', async () => {
    const clear = await rawRequest(`http://127.0.0.1:${pair.ports.agentHttp}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: PASSWORD }).toString(),
      timeoutMs: 5_000,
    }).then(
      (answer) => `HTTP ${answer.status}`,
      (error: Error) => `refused: ${error.message}`,
    );
    expect(clear).not.toMatch(/^HTTP (2|3)\d\d/);
    // A client that does not trust the agent's CA is refused by TLS itself.
    await expect(rawRequest(`${base}/healthz`)).rejects.toThrow(/certificate/);
  });
});
