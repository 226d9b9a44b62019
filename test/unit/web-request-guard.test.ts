// The agent web guards as pure logic: the Host allow-list, login attempts
// counted before they are checked, the overall login budget, the CSRF rule for
// admin actions, and the password check thread.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../agent/config.js';
import { AdminAuth, CSRF_HEADER } from '../../agent/http/admin-auth.js';
import { loadAdminCredentials } from '../../agent/http/admin-config.js';
import { hashPassword, parseScryptHash } from '../../agent/http/admin-password.js';
import { FREE_FAILURES, LoginThrottle, MAX_LOCKOUT_MS, OVERALL_ATTEMPT_BURST } from '../../agent/http/login-throttle.js';
import { PasswordVerifier } from '../../agent/http/password-verifier.js';
import { hostNameOf, RequestGuard } from '../../agent/http/request-guard.js';
import { ConfigError, parseConfigText } from '../../runtime/index.js';

const request = (headers: Record<string, string>): IncomingMessage => ({ headers, socket: {} }) as unknown as IncomingMessage;

describe('Host allow-list', () => {
  const guard = new RequestGuard({ listenHost: '0.0.0.0', allowedHosts: ['Wardline.Hospital.Local'] });

  it('lets IP addresses, loopback names and configured names through, and nothing else', () => {
    for (const host of ['127.0.0.1:8480', '10.2.3.4', '[::1]:8480', '[fe80::1]', 'localhost:8480', 'LOCALHOST', 'app.localhost:1', 'wardline.hospital.local:8480', 'wardline.hospital.local.']) {
      expect(guard.checkHost(host), host).toBeNull();
    }
    for (const host of [undefined, '', 'attacker.test:8480', 'wardline.hospital.local.attacker.test', 'localhost.attacker.test', '127.0.0.1.nip.io', 'a b', 'host:port:x', '[::1']) {
      expect(guard.checkHost(host), String(host)).toMatchObject({ status: 421, code: 'unknown_host' });
    }
  });

  it('answers to the name in http.listen, not to a wildcard address', () => {
    expect(new RequestGuard({ listenHost: 'agent.lan', allowedHosts: [] }).checkHost('agent.lan:8480')).toBeNull();
    expect(new RequestGuard({ listenHost: '0.0.0.0', allowedHosts: [] }).checkHost('agent.lan:8480')).not.toBeNull();
    expect(hostNameOf('[::1]:8480')).toBe('::1');
    expect(hostNameOf('Agent.LAN.:80')).toBe('agent.lan');
  });

  it('refuses an allowedHosts entry that is not a DNS name, naming the key', () => {
    const base = 'hospital: { id: h }\ndataDir: ./d\n';
    expect(parseConfigText(`${base}http: { allowedHosts: [wardline.lan] }\n`, 'agent.yaml', AgentConfigSchema).http.allowedHosts).toEqual(['wardline.lan']);
    let error: unknown;
    try {
      parseConfigText(`${base}http: { allowedHosts: ["wardline.lan:8480"] }\n`, 'agent.yaml', AgentConfigSchema);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/http\.allowedHosts\[0\].*DNS name without port/);
  });
});

describe('login attempts', () => {
  it('counts an attempt when it is admitted, so guesses sent at once lock the address out', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    const admitted = Array.from({ length: 100 }, () => throttle.admit('10.0.0.9')).filter((wait) => wait === 0).length;
    expect(admitted).toBe(FREE_FAILURES + 1);
    // Every refused guess lengthened the lockout.
    expect(throttle.retryAfterMs('10.0.0.9')).toBe(MAX_LOCKOUT_MS);
    expect(throttle.admit('10.0.0.10')).toBe(0);
    throttle.succeeded('10.0.0.10');
    now += MAX_LOCKOUT_MS - 1;
    expect(throttle.admit('10.0.0.9')).toBeGreaterThan(0);
  });

  it('checks at most a burst of passwords overall, whatever the addresses, then a few per second', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    const waits = Array.from({ length: 50 }, (_, i) => throttle.admit(`10.1.0.${i}`));
    expect(waits.filter((w) => w === 0).length).toBe(OVERALL_ATTEMPT_BURST);
    // Refused for the overall budget: not held against those addresses.
    expect(throttle.retryAfterMs('10.1.0.40')).toBe(0);
    now += 1_000;
    expect(Array.from({ length: 10 }, (_, i) => throttle.admit(`10.2.0.${i}`)).filter((w) => w === 0).length).toBe(4);
  });

  it('checks passwords on a thread of its own, right and wrong', async () => {
    const verifier = new PasswordVerifier();
    const stored = parseScryptHash(await hashPassword('correct horse', { logN: 10 }));
    expect(await Promise.all([verifier.verify('correct horse', stored), verifier.verify('correct hors', stored), verifier.verify('correct horse', stored)])).toEqual([true, false, true]);
    await verifier.close();
    expect(await verifier.verify('correct horse', stored)).toBe(true);
    await verifier.close();
  });
});

describe('admin actions from a browser', () => {
  it('need same-origin JSON with the CSRF token, with or without a login; a bearer token needs none', () => {
    const open = new AdminAuth({ credentials: null });
    const token = open.csrfToken(request({}));
    const json = { host: 'agent:8480', 'content-type': 'application/json' };
    expect(open.adminWriteRefusal(request({ ...json, [CSRF_HEADER]: token }), 'open')).toBeNull();
    expect(open.adminWriteRefusal(request({ ...json, [CSRF_HEADER]: token, 'sec-fetch-site': 'same-origin' }), 'open')).toBeNull();
    expect(open.adminWriteRefusal(request(json), 'open')).toMatchObject({ status: 403, code: 'csrf_token' });
    expect(open.adminWriteRefusal(request({ ...json, [CSRF_HEADER]: `${token}x` }), 'open')).toMatchObject({ status: 403 });
    expect(open.adminWriteRefusal(request({ host: 'agent:8480', 'content-type': 'text/plain', [CSRF_HEADER]: token }), 'open')).toMatchObject({ status: 415 });
    expect(open.adminWriteRefusal(request({ ...json, [CSRF_HEADER]: token, 'sec-fetch-site': 'cross-site' }), 'open')).toMatchObject({ status: 403, code: 'cross_site' });
    expect(open.adminWriteRefusal(request({ ...json, [CSRF_HEADER]: token, origin: 'http://attacker.test' }), 'open')).toMatchObject({ code: 'cross_site' });
    expect(open.adminWriteRefusal(request({}), 'token')).toBeNull();
    // Another agent process has another token.
    expect(new AdminAuth({ credentials: null }).csrfToken(request({}))).not.toBe(token);
  });

  it('bind the token to the session when a login is configured', () => {
    const credentials = loadAdminCredentials({ token: 'token-0123456789abcdef', sessionIdle: 60_000, open: [] }, (p) => p, 'agent.yaml')!;
    const auth = new AdminAuth({ credentials });
    const a = auth.csrfToken(request({ cookie: 'wardline_session=aaa' }));
    const b = auth.csrfToken(request({ cookie: 'wardline_session=bbb' }));
    expect(a).not.toBe(b);
    const json = { host: 'agent:8480', 'content-type': 'application/json' };
    expect(auth.adminWriteRefusal(request({ ...json, cookie: 'wardline_session=bbb', [CSRF_HEADER]: a }), 'session')).toMatchObject({ status: 403 });
    expect(auth.adminWriteRefusal(request({ ...json, cookie: 'wardline_session=aaa', [CSRF_HEADER]: a }), 'session')).toBeNull();
  });
});
