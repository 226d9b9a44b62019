import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/index.js';
import { loadRelayConfig, parseRelayConfig } from '../../cloud-relay/config.js';
import { loadCredentials } from '../../cloud-relay/credentials.js';
import { makeTempDir } from '../support/temp-dir.js';

const tempDir = makeTempDir('wardline-relay-config-');
const dir = tempDir.path;
afterAll(() => tempDir.remove());

let fileCount = 0;
function writeConfig(yaml: string): string {
  const file = join(dir, `relay-${++fileCount}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

/** The ConfigError's problems for a config file holding `yaml`. */
function problemsOf(yaml: string): { file: string; problems: string[] } {
  const file = writeConfig(yaml);
  try {
    loadRelayConfig(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return { file, problems: (error as ConfigError).problems };
  }
  throw new Error('expected a ConfigError');
}

const SECRET = 'h1-secret-0123456789abcdef';

describe('relay config', () => {
  it('fills every default, with units', () => {
    const config = loadRelayConfig(writeConfig('dataDir: ./data\nallowPlaintext: true\n'));
    expect(config).toEqual({
      relayId: 'wardline-relay',
      dataDir: join(dir, 'data'),
      store: { kind: 'sqlite' },
      grpc: {
        listen: { host: '0.0.0.0', port: 7443 },
        maxBatchBytes: 4 * 1024 * 1024,
        keepalive: { permitWithoutCalls: true, minPingIntervalMs: 5000, pingIntervalMs: 20000, pingTimeoutMs: 10000 },
        helloTimeoutMs: 5000,
        maxUnauthenticatedStreamsPerPeer: 32,
      },
      http: { listen: { host: '0.0.0.0', port: 7480 } },
      allowPlaintext: true,
      hospitals: [],
      vendors: [],
      log: { level: 'info' },
      secretFilePermissions: 'refuse',
      feedLimits: { concurrentReadsPerKey: 8, followSubscriptionsPerKey: 64, stalledResponseMs: 30_000, heartbeatMs: 5_000, maxWaitMs: 30_000 },
      retention: { default: {}, feeds: [], sweepIntervalMs: 600_000 },
      inbound: { maxBodyBytes: 1_048_576, expirySweepMs: 1_000, retainFinalFor: 30 * 24 * 60 * 60 * 1000 },
      sinks: [],
    });
  });

  it('resolves secretFile and keyFile against the config file, and reads IPv6 listen addresses', () => {
    const config = loadRelayConfig(
      writeConfig(`
dataDir: /var/lib/wardline-relay
allowPlaintext: true
grpc: { listen: "[::]:0" }
hospitals: [{ id: h1, secretFile: secrets/h1.secret }]
vendors: [{ name: v, keyFile: v.key, grants: [{ hospital: h1, feeds: [adt] }] }]
`),
    );
    expect(config.dataDir).toBe('/var/lib/wardline-relay');
    expect(config.grpc.listen).toEqual({ host: '::', port: 0 });
    expect(config.hospitals[0]!.secretFile).toBe(join(dir, 'secrets/h1.secret'));
    expect(config.vendors[0]!.keyFile).toBe(join(dir, 'v.key'));
  });

  it('reads the operator token from a file (as its digest) or as a SHA-256 digest, one of the two', () => {
    writeFileSync(join(dir, 'operator.token'), 'operator-token-0123456789abcdef\n');
    const fromFile = loadRelayConfig(writeConfig('dataDir: d\nallowPlaintext: true\nhttp: { operatorTokenFile: operator.token }\n'));
    expect(fromFile.http.operatorTokenFile).toBe(join(dir, 'operator.token'));
    const digest = loadCredentials(fromFile, 'relay.yaml').operatorTokenDigest!;
    expect(digest.toString('hex')).toBe(createHash('sha256').update('operator-token-0123456789abcdef').digest('hex'));
    const fromDigest = loadRelayConfig(writeConfig(`dataDir: d\nallowPlaintext: true\nhttp: { operatorTokenSha256: "${digest.toString('hex')}" }\n`));
    expect(loadCredentials(fromDigest, 'relay.yaml').operatorTokenDigest).toEqual(digest);
    expect(loadCredentials(loadRelayConfig(writeConfig('dataDir: d\nallowPlaintext: true\n')), 'relay.yaml').operatorTokenDigest).toBeUndefined();

    const both = problemsOf(`dataDir: d\nallowPlaintext: true\nhttp: { operatorTokenFile: t, operatorTokenSha256: "${digest.toString('hex')}" }\n`);
    expect(both.problems).toEqual([expect.stringMatching(/^http\.operatorTokenSha256: give operatorTokenFile or operatorTokenSha256, not both/)]);
    const notHex = problemsOf('dataDir: d\nallowPlaintext: true\nhttp: { operatorTokenSha256: "abc" }\n');
    expect(notHex.problems).toEqual([`http.operatorTokenSha256: expected the SHA-256 digest of the operator token: 64 hex digits, got "abc" (${notHex.file})`]);
    writeFileSync(join(dir, 'short.token'), 'short\n');
    const short = loadRelayConfig(writeConfig('dataDir: d\nallowPlaintext: true\nhttp: { operatorTokenFile: short.token }\n'));
    expect(() => loadCredentials(short, 'relay.yaml')).toThrow(/http\.operatorTokenFile \(.*short\.token\): expected at least 16 characters, got 5/);
  });

  it('names a bad feed limit and its rule', () => {
    const { file, problems } = problemsOf('dataDir: d\nallowPlaintext: true\nfeedLimits: { concurrentReadsPerKey: 0, stalledResponseMs: 10 }\n');
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^feedLimits\\.concurrentReadsPerKey: .*got 0 \\(${file.replace(/[.]/g, '\\.')}\\)$`)),
      expect.stringMatching(/^feedLimits\.stalledResponseMs: .*100.*got 10/),
    ]);
  });

  it('takes feedLimits.maxWaitMs from 0 (long-polls off) to 300000 ms and names it with its range otherwise', () => {
    expect(loadRelayConfig(writeConfig('dataDir: d\nallowPlaintext: true\nfeedLimits: { maxWaitMs: 0 }\n')).feedLimits.maxWaitMs).toBe(0);
    expect(loadRelayConfig(writeConfig('dataDir: d\nallowPlaintext: true\nfeedLimits: { maxWaitMs: 5m }\n')).feedLimits.maxWaitMs).toBe(300_000);
    for (const value of ['300001', '6m', '-1', 'soon']) {
      const { file, problems } = problemsOf(`dataDir: d\nallowPlaintext: true\nfeedLimits: { maxWaitMs: ${value} }\n`);
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^feedLimits\\.maxWaitMs: expected a duration of at most 300000 ms .*got .*${value}.* \\(${file.replace(/[.]/g, '\\.')}\\)$`))]);
    }
  });

  it('reads a PostgreSQL store with its defaults, resolving urlFile against the config file', () => {
    const config = loadRelayConfig(writeConfig('dataDir: d\nallowPlaintext: true\nstore: { kind: postgres, urlFile: secrets/pg-url }\n'));
    expect(config.store).toEqual({ kind: 'postgres', urlFile: join(dir, 'secrets/pg-url'), poolMax: 10, connectTimeoutMs: 5000, heartbeatMs: 2000, processTimeoutMs: 10000, liveTailPollMs: 1000 });
  });

  it('names what is wrong with a store section', () => {
    expect(problemsOf('dataDir: d\nallowPlaintext: true\nstore: { kind: postgres }\n').problems).toEqual([expect.stringMatching(/^store\.url: expected url or urlFile/)]);
    expect(problemsOf('dataDir: d\nallowPlaintext: true\nstore: { kind: postgres, url: "mysql://x/y" }\n').problems).toEqual([expect.stringMatching(/^store\.url: expected a postgres:\/\/ or postgresql:\/\/ URL/)]);
    expect(problemsOf('dataDir: d\nallowPlaintext: true\nstore: { kind: postgres, url: "postgres://h/db", heartbeatMs: 8000 }\n').problems).toEqual([expect.stringMatching(/^store\.processTimeoutMs: expected at least twice heartbeatMs/)]);
    expect(problemsOf('dataDir: d\nallowPlaintext: true\nstore: { kind: oracle }\n').problems).toEqual([expect.stringMatching(/^store\.kind: /)]);
  });

  it('names an unknown key and the file', () => {
    const { file, problems } = problemsOf('dataDir: d\nallowPlaintext: true\ngrpcc: {}\n');
    expect(problems).toEqual([`grpcc: unknown key (${file})`]);
  });

  it('names an unknown nested key with its full path', () => {
    const { file, problems } = problemsOf('dataDir: d\nallowPlaintext: true\ngrpc:\n  keepalive:\n    permitWithoutCall: true\n');
    expect(problems).toEqual([`grpc.keepalive.permitWithoutCall: unknown key (${file})`]);
  });

  it('names a bad host:port, the value and the file', () => {
    const { file, problems } = problemsOf('dataDir: d\nallowPlaintext: true\ngrpc: { listen: "7443x" }\nhttp: { listen: "0.0.0.0:99999" }\n');
    expect(problems).toEqual([
      `grpc.listen: expected host:port, got "7443x" (${file})`,
      `http.listen: expected host:port, got "0.0.0.0:99999" (${file})`,
    ]);
  });

  it('requires dataDir', () => {
    const { problems } = problemsOf('relayId: r1\nallowPlaintext: true\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^dataDir: .*got nothing/);
  });

  it('requires exactly one of secret and secretFile, without echoing the secret', () => {
    const { file, problems } = problemsOf(`
dataDir: d
allowPlaintext: true
hospitals:
  - { id: h1 }
  - { id: h2, secret: ${SECRET}, secretFile: /etc/h2.secret }
`);
    expect(problems).toEqual([
      `hospitals[1].secretFile: give secret or secretFile, not both, got "/etc/h2.secret" (${file})`,
      `hospitals[0].secret: expected secret or secretFile (or mutual TLS: tls.clientCaFile, so the hospital's client certificate identifies its agent), got nothing (${file})`,
    ]);
    expect(problems.join('\n')).not.toContain(SECRET);
  });

  it('refuses grants to unconfigured hospitals and duplicate ids', () => {
    const { file, problems } = problemsOf(`
dataDir: d
allowPlaintext: true
hospitals:
  - { id: h1, secret: ${SECRET} }
  - { id: h1, secret: ${SECRET} }
vendors:
  - { name: v, key: k, grants: [{ hospital: h9, feeds: [adt] }] }
`);
    expect(problems).toEqual([
      `hospitals[1].id: duplicate hospital id, got "h1" (${file})`,
      `vendors[0].grants[0].hospital: expected a hospital id from hospitals[] (h1), got "h9" (${file})`,
    ]);
  });

  it('refuses ids that would not be safe in URLs and logs', () => {
    const { problems } = problemsOf(`dataDir: d\nallowPlaintext: true\nhospitals: [{ id: "h 1/..", secret: ${SECRET} }]\n`);
    expect(problems[0]).toMatch(/^hospitals\[0\]\.id: expected 1-64 letters, digits/);
  });

  it('accepts the shipped example config', () => {
    const config = loadRelayConfig(join(import.meta.dirname, '../../examples/relay.yaml'));
    expect(config.relayId).toBe('relay-cn-east-1');
    expect(config.hospitals.map((h) => h.id)).toEqual(['h-zj-001', 'h-zj-002']);
    expect(config.vendors[0]!.grants).toHaveLength(2);
  });
});

describe('relay credentials', () => {
  it('reads secret files once, ignoring one trailing newline', () => {
    const secretFile = join(dir, 'h1.secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    const config = parseRelayConfig({ dataDir: dir, allowPlaintext: true, hospitals: [{ id: 'h1', secretFile }] });
    expect(loadCredentials(config, 'relay.yaml').hospitals).toEqual([{ id: 'h1', secret: SECRET }]);
  });

  it('names an unreadable secret file, a short secret and a shared vendor key, never the secret', () => {
    const config = parseRelayConfig({
      dataDir: dir,
      allowPlaintext: true,
      hospitals: [
        { id: 'h1', secretFile: join(dir, 'missing.secret') },
        { id: 'h2', secret: 'short-secret' },
      ],
      vendors: [
        { name: 'a', key: 'shared-key-0123456789' },
        { name: 'b', key: 'shared-key-0123456789' },
      ],
    });
    const error = catchConfigError(() => loadCredentials(config, 'relay.yaml'));
    expect(error.problems).toEqual([
      `hospitals[0].secretFile: cannot read ${JSON.stringify(join(dir, 'missing.secret'))}: ENOENT (relay.yaml)`,
      'hospitals[1].secret: expected at least 16 characters, got 12 (relay.yaml)',
      'vendors[1].key: the same key as vendors[0] (a); every vendor needs its own key (relay.yaml)',
    ]);
    expect(error.message).not.toContain('short-secret');
    expect(error.message).not.toContain('shared-key');
  });
});

function catchConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
