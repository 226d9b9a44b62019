// The dashboard login's parts: the password hash, sessions, throttling, and
// reading http.admin from the config.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentConfigSchema, resolveAgentConfig } from '../../agent/config.js';
import { AdminAuth, SESSION_COOKIE, sameOrigin } from '../../agent/http/admin-auth.js';
import { loadAdminCredentials } from '../../agent/http/admin-config.js';
import { hashPassword, parseScryptHash } from '../../agent/http/admin-password.js';
import { PasswordHashFormatError } from '../../agent/http/errors.js';
import { PasswordVerifier } from '../../agent/http/password-verifier.js';
import { AdminSessions } from '../../agent/http/admin-sessions.js';
import { FREE_FAILURES, LoginThrottle, MAX_LOCKOUT_MS } from '../../agent/http/login-throttle.js';
import { ConfigError, parseConfigText } from '../../runtime/index.js';
import type { IncomingMessage } from 'node:http';

// The agent checks passwords on PasswordVerifier's worker thread; the tests check them the same way.
const verifier = new PasswordVerifier();
const verifyPassword = verifier.verify.bind(verifier);
afterAll(() => verifier.close());

const request = (headers: Record<string, string>): IncomingMessage => ({ headers, socket: {} }) as unknown as IncomingMessage;

describe('admin password', () => {
  it('hashes with scrypt in PHC form and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse battery', { logN: 10 });
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    const parsed = parseScryptHash(stored);
    expect(await verifyPassword('correct horse battery', parsed)).toBe(true);
    expect(await verifyPassword('correct horse batterY', parsed)).toBe(false);
    expect(stored).not.toBe(await hashPassword('correct horse battery', { logN: 10 }));
  });

  it('refuses malformed hashes and costs that would exhaust memory', () => {
    expect(() => parseScryptHash('correct horse battery')).toThrow(PasswordHashFormatError);
    expect(() => parseScryptHash('$scrypt$ln=25,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g')).toThrow(/ln must be between/);
  });
});

describe('admin sessions and login throttle', () => {
  it('ends a session unused for the idle time, and keeps one in use', () => {
    let now = 0;
    const sessions = new AdminSessions(60_000, () => now);
    const kept = sessions.create();
    const idle = sessions.create();
    for (now = 0; now <= 120_000; now += 30_000) expect(sessions.touch(kept)).toBe(true);
    expect(sessions.touch(idle)).toBe(false);
    expect(sessions.touch('made-up')).toBe(false);
    sessions.destroy(kept);
    expect(sessions.touch(kept)).toBe(false);
  });

  it('locks an address out after repeated wrong passwords, doubling, capped, and forgets on success', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < FREE_FAILURES; i++) throttle.failed('10.0.0.9');
    expect(throttle.retryAfterMs('10.0.0.9')).toBe(0);
    throttle.failed('10.0.0.9');
    expect(throttle.retryAfterMs('10.0.0.9')).toBe(1000);
    throttle.failed('10.0.0.9');
    expect(throttle.retryAfterMs('10.0.0.9')).toBe(2000);
    for (let i = 0; i < 30; i++) throttle.failed('10.0.0.9');
    expect(throttle.retryAfterMs('10.0.0.9')).toBe(MAX_LOCKOUT_MS);
    expect(throttle.retryAfterMs('10.0.0.10')).toBe(0);
    throttle.succeeded('10.0.0.9');
    expect(throttle.retryAfterMs('10.0.0.9')).toBe(0);
  });

  it('logs in with the password or the token, and identifies the session and bearer requests', async () => {
    const hash = await hashPassword('wall screen password', { logN: 10 });
    const credentials = loadAdminCredentials({ passwordHash: hash, token: 'token-0123456789abcdef', sessionIdle: 60_000, open: ['healthz'] }, (p) => p, 'agent.yaml')!;
    const auth = new AdminAuth({ credentials });
    expect(auth.required).toBe(true);
    expect(auth.isOpen('healthz')).toBe(true);
    expect(auth.isOpen('metrics')).toBe(false);
    expect(await auth.login('wrong', '10.0.0.1')).toEqual({ ok: false, retryAfterMs: 0 });
    const byPassword = await auth.login('wall screen password', '10.0.0.1');
    expect(byPassword.ok).toBe(true);
    const byToken = await auth.login('token-0123456789abcdef', '10.0.0.1');
    expect(byToken.ok).toBe(true);
    const sessionId = (byPassword as { sessionId: string }).sessionId;
    expect(auth.identify(request({ cookie: `other=1; ${SESSION_COOKIE}=${sessionId}`, host: 'agent:8480' }))).toBe('session');
    expect(auth.identify(request({ cookie: `${SESSION_COOKIE}=${sessionId}`, host: 'agent:8480', origin: 'http://evil.example' }))).toBe(null);
    expect(auth.identify(request({ authorization: 'Bearer token-0123456789abcdef' }))).toBe('token');
    expect(auth.identify(request({ authorization: 'Bearer wrong-token-0000000' }))).toBe(null);
    expect(auth.identify(request({}))).toBe(null);
    expect(auth.sessionCookie(sessionId, request({}))).toBe(`${SESSION_COOKIE}=${sessionId}; Path=/; HttpOnly; SameSite=Strict`);
  });

  it('is open, and says so, without http.admin', () => {
    const auth = new AdminAuth({ credentials: null });
    expect(auth.required).toBe(false);
    expect(auth.identify(request({}))).toBe('open');
    expect(auth.isOpen('status')).toBe(true);
  });

  it('tells same-origin requests from cross-site ones', () => {
    expect(sameOrigin(request({ host: 'agent:8480' }))).toBe(true);
    expect(sameOrigin(request({ host: 'agent:8480', origin: 'http://agent:8480' }))).toBe(true);
    expect(sameOrigin(request({ host: 'agent:8480', origin: 'http://other:8480' }))).toBe(false);
    expect(sameOrigin(request({ host: 'agent:8480', 'sec-fetch-site': 'cross-site' }))).toBe(false);
    expect(sameOrigin(request({ host: 'agent:8480', 'sec-fetch-site': 'same-site' }))).toBe(false);
    expect(sameOrigin(request({ host: 'agent:8480', 'sec-fetch-site': 'same-origin', origin: 'null' }))).toBe(true);
    expect(sameOrigin(request({ host: 'agent:8480', origin: 'null' }))).toBe(false);
  });
});

describe('http.admin in agent.yaml', () => {
  const base = `
hospital: { id: h1 }
dataDir: ./data
`;
  const parse = (text: string) => parseConfigText(text, 'agent.yaml', AgentConfigSchema);
  const problemsOf = (text: string): string[] => {
    try {
      parse(text);
    } catch (error) {
      return (error as ConfigError).problems;
    }
    return [];
  };

  it('has no login by default (open dashboard)', () => {
    expect(resolveAgentConfig(parse(base), '/etc/wardline/agent.yaml').adminCredentials).toBeNull();
  });

  it('reads a password file holding a hash, or a password in clear, relative to the config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardline-admin-'));
    writeFileSync(join(dir, 'hash'), `${await hashPassword('from the installer', { logN: 10 })}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'clear'), 'typed at install\n', { mode: 0o600 });
    writeFileSync(join(dir, 'token'), 'a-token-of-32-characters-0000000\n', { mode: 0o600 });
    const hashed = resolveAgentConfig(parse(`${base}http: { admin: { passwordFile: hash, tokenFile: token } }\n`), join(dir, 'agent.yaml')).adminCredentials!;
    expect(await verifyPassword('from the installer', hashed.password!)).toBe(true);
    expect(hashed.tokenDigest).not.toBeNull();
    expect([...hashed.open]).toEqual(['healthz', 'readyz', 'metrics']);
    const clear = resolveAgentConfig(parse(`${base}http: { admin: { passwordFile: clear, open: [] } }\n`), join(dir, 'agent.yaml')).adminCredentials!;
    expect(await verifyPassword('typed at install', clear.password!)).toBe(true);
    expect(clear.open.size).toBe(0);
  });

  it('names the key for a missing file, a bad hash, both forms at once, or nothing to log in with', () => {
    expect(() => resolveAgentConfig(parse(`${base}http: { admin: { passwordFile: /nonexistent/pw } }\n`), '/etc/wardline/agent.yaml')).toThrow(/http\.admin\.passwordFile: cannot read \/nonexistent\/pw/);
    expect(problemsOf(`${base}http: { admin: { passwordHash: "hunter2" } }\n`)[0]).toMatch(/^http\.admin\.passwordHash: expected "\$scrypt\$/);
    expect(problemsOf(`${base}http: { admin: { passwordHash: "x", passwordFile: y } }\n`).some((p) => p.startsWith('http.admin.passwordHash: give passwordFile or passwordHash, not both'))).toBe(true);
    expect(problemsOf(`${base}http: { admin: {} }\n`)[0]).toMatch(/^http\.admin\.passwordFile: expected passwordFile, passwordHash, token or tokenFile/);
    expect(problemsOf(`${base}http: { admin: { token: short } }\n`)[0]).toMatch(/^http\.admin\.token: .*a value \(not shown: it is a secret\)/);
    expect(problemsOf(`${base}http: { admin: { token: "0123456789abcdefgh", open: [records] } }\n`)[0]).toMatch(/^http\.admin\.open\[0\]/);
  });
});
