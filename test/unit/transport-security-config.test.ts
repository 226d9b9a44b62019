// The config keys of transport security: plaintext only when asked for, TLS
// keys checked together, secrets optional under mutual TLS.
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, resolveAgentConfig } from '../../agent/config.js';
import { parseRelayConfig } from '../../cloud-relay/config.js';
import { ConfigError, parseConfigText } from '../../runtime/index.js';

const SECRET = 'h1-secret-0123456789abcdef';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('relay transport security config', () => {
  const relay = (extra: Record<string, unknown>) => parseRelayConfig({ dataDir: '/d', hospitals: [{ id: 'h1', secret: SECRET }], ...extra }, 'relay.yaml');

  it('refuses to run without tls unless allowPlaintext says so, naming the key', () => {
    expect(problemsOf(() => relay({}))).toEqual([
      'tls: expected tls (certFile and keyFile; `wardline cert` makes development ones), or allowPlaintext: true to run without TLS for local development, got nothing (relay.yaml)',
    ]);
    expect(relay({ allowPlaintext: true }).allowPlaintext).toBe(true);
  });

  it('refuses tls and allowPlaintext together, and an incomplete tls', () => {
    expect(problemsOf(() => relay({ allowPlaintext: true, tls: { certFile: 'c', keyFile: 'k' } }))).toEqual([
      'allowPlaintext: remove it: tls is configured, so both endpoints use TLS, got true (relay.yaml)',
    ]);
    expect(problemsOf(() => relay({ tls: { certFile: 'c' } }))[0]).toMatch(/^tls\.keyFile: .*got nothing \(relay\.yaml\)$/);
    expect(problemsOf(() => relay({ tls: { certFile: 'c', keyFile: 'k', requireClientCert: true } }))).toEqual([
      "tls.requireClientCert: needs clientCaFile, the CA that issues the hospitals' client certificates, got true (relay.yaml)",
    ]);
    expect(problemsOf(() => relay({ tls: { certFile: 'c', keyFile: 'k', caFile: 'x' } }))).toEqual(['tls.caFile: unknown key (relay.yaml)']);
  });

  it('lets the client certificate replace the secret only with mutual TLS', () => {
    const withoutSecret = { hospitals: [{ id: 'h1' }] };
    expect(problemsOf(() => relay({ ...withoutSecret, tls: { certFile: 'c', keyFile: 'k' } }))[0]).toMatch(/^hospitals\[0\]\.secret: expected secret or secretFile \(or mutual TLS: tls\.clientCaFile/);
    expect(relay({ ...withoutSecret, tls: { certFile: 'c', keyFile: 'k', clientCaFile: 'ca' } }).hospitals).toEqual([{ id: 'h1' }]);
  });
});

describe('agent relay link security config', () => {
  const agent = (relay: string) =>
    parseConfigText(
      `hospital: { id: h1 }\ndataDir: ./data\nrelays:\n  - { name: cloud, address: "relay.example:7443", ${relay} }\nfeeds: [{ name: clinical, relay: cloud, streams: [adt] }]\n`,
      'agent.yaml',
      AgentConfigSchema,
    );

  it('refuses a plaintext link unless allowPlaintext says so, naming the key', () => {
    expect(problemsOf(() => agent(`secret: ${SECRET}`))).toEqual([
      "relays[0].tls: expected tls (caFile for the relay's CA; certFile and keyFile for mutual TLS), or allowPlaintext: true to connect without TLS for local development, got nothing (agent.yaml)",
    ]);
    expect(agent(`secret: ${SECRET}, allowPlaintext: true`).relays[0]!.allowPlaintext).toBe(true);
  });

  it('needs a secret unless a client certificate is configured, and both halves of the certificate', () => {
    expect(problemsOf(() => agent('tls: { caFile: ca.crt }'))[0]).toMatch(/^relays\[0\]\.secret: expected secret or secretFile \(or tls\.certFile and tls\.keyFile/);
    expect(problemsOf(() => agent('tls: { certFile: c.crt }'))).toEqual(['relays[0].tls.keyFile: expected the private key of certFile (mutual TLS needs both), got nothing (agent.yaml)']);
    expect(agent('tls: { caFile: ca.crt, certFile: c.crt, keyFile: c.key }').relays[0]!.secret).toBeUndefined();
  });

  it('names a TLS file that cannot be read, resolved against the config file', () => {
    const config = agent('tls: { caFile: tls/ca.crt, certFile: tls/c.crt, keyFile: tls/c.key }');
    expect(problemsOf(() => resolveAgentConfig(config, '/nonexistent/wardline/agent.yaml'))).toEqual([
      'relays[0].tls.caFile: cannot read "/nonexistent/wardline/tls/ca.crt": ENOENT (/nonexistent/wardline/agent.yaml)',
      'relays[0].tls.certFile: cannot read "/nonexistent/wardline/tls/c.crt": ENOENT (/nonexistent/wardline/agent.yaml)',
      'relays[0].tls.keyFile: cannot read "/nonexistent/wardline/tls/c.key": ENOENT (/nonexistent/wardline/agent.yaml)',
    ]);
  });
});
