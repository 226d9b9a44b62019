import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { AgentConfigSchema, resolveAgentConfig } from '../../agent/config.js';
import { WARDLINE_VERSION } from '../../protocol/index.js';
import { ConfigError, loadConfigFile, parseConfigText } from '../../runtime/index.js';
import { agentConfigProblems } from '../support/agent-config-problems.js';

const parse = (text: string) => parseConfigText(text, 'agent.yaml', AgentConfigSchema);

const minimal = `
hospital: { id: demo-hospital }
dataDir: ./data
relays:
  - { name: cloud, address: "127.0.0.1:7443", secret: s3cret, allowPlaintext: true }
feeds:
  - { name: clinical, relay: cloud, streams: [adt, results] }
`;

const problemsOf = agentConfigProblems;

describe('agent config', () => {
  it('fills defaults beside the schema', () => {
    const config = parse(minimal);
    expect(config.http.listen).toEqual({ host: '0.0.0.0', port: 8480 });
    expect(config.replication.codec).toBe('brotli');
    expect(config.replication.backoff.maxMs).toBe(5_000);
  });

  it('bounds an MLLP source by default: 100 connections, 64 MiB held, 50 000 segments, 5 min idle', () => {
    const config = parse(minimal + `sources:\n  - { kind: mllp, name: lis }\n`);
    expect(config.sources[0]).toMatchObject({ maxConnections: 100, maxBufferedBytes: 64 * 1024 * 1024, maxSegments: 50_000, idleTimeout: 300_000 });
    const tuned = parse(minimal + `sources:\n  - { kind: mllp, name: lis, maxBufferedBytes: 256MiB, idleTimeout: 0, maxSegments: 200000 }\n`);
    expect(tuned.sources[0]).toMatchObject({ maxBufferedBytes: 256 * 1024 * 1024, idleTimeout: 0, maxSegments: 200_000 });
  });

  it('refuses an MLLP byte budget the largest frame cannot fit in, naming the key', () => {
    const problems = problemsOf(minimal + `sources:\n  - { kind: mllp, name: lis, maxBufferedBytes: 16MiB }\n`);
    expect(problems).toEqual([expect.stringMatching(/^sources\[0\]\.maxBufferedBytes: expected at least 4\/3 of maxFrameBytes \(16777216 bytes\).*\(agent\.yaml\)$/)]);
  });

  it('names the key, the value and the file for a bad host:port', () => {
    const problems = problemsOf(minimal + `sources:\n  - { kind: mllp, name: lis, listen: "2575x" }\n`);
    expect(problems).toEqual(['sources[0].listen: expected host:port, got "2575x" (agent.yaml)']);
  });

  it('compresses adaptively by default, takes a level the codec has, and refuses one it has not', () => {
    expect(parse(minimal).replication.compressionLevel).toBe('adaptive');
    expect(parse(minimal + 'replication: { codec: gzip, compressionLevel: 1 }\n').replication.compressionLevel).toBe(1);
    expect(problemsOf(minimal + 'replication: { compressionLevel: 12 }\n')).toEqual(['replication.compressionLevel: brotli takes levels 0–11, got 12 (agent.yaml)']);
    expect(problemsOf(minimal + 'replication: { codec: none, compressionLevel: 3 }\n')).toEqual(['replication.compressionLevel: codec none takes no level (it does not compress), got 3 (agent.yaml)']);
    expect(problemsOf(minimal + 'replication: { compressionLevel: fast }\n')).toEqual([expect.stringMatching(/^replication\.compressionLevel: expected "adaptive" or a whole number/)]);
  });

  it('refuses an unknown key, naming it', () => {
    expect(problemsOf(minimal + 'replication: { batchSize: 5 }\n')).toEqual(['replication.batchSize: unknown key (agent.yaml)']);
  });

  it('refuses a feed that names an undeclared relay', () => {
    const problems = problemsOf(minimal.replace('relay: cloud,', 'relay: backup,'));
    expect(problems[0]).toMatch(/^feeds\[0\]\.relay: expected one of the relays declared under relays \(cloud\), got "backup" \(agent\.yaml\)$/);
  });

  it('says which file could not be parsed as YAML', () => {
    expect(() => parse('hospital: [unclosed')).toThrow(/agent\.yaml is not valid YAML/);
  });

  it('resolves the data directory against the config file', () => {
    const config = resolveAgentConfig(parse(minimal), '/etc/wardline/agent.yaml');
    expect(config.dataDir).toBe('/etc/wardline/data');
    expect(config.relaySecrets.get('cloud')).toBe('s3cret');
  });

  it('accepts the shipped, fully commented example config', () => {
    const example = loadConfigFile(new URL('../../examples/agent.yaml', import.meta.url).pathname, AgentConfigSchema);
    expect(example.feeds.map((f) => f.name)).toEqual(['clinical', 'appointments']);
    expect(example.inbound.map((c) => [c.channel, c.relay, c.sink.kind])).toEqual([['bookings', 'cloud', 'mllp']]);
    expect(example.sources[0]).toMatchObject({ kind: 'mllp', listen: { host: '0.0.0.0', port: 2575 } });
  });

  it('ships a version equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(WARDLINE_VERSION).toBe(pkg.version);
  });
});

describe('config errors and secrets', () => {
  it('never prints the value of a secret it refuses', () => {
    const problems = problemsOf(minimal.replace('secret: s3cret', 'secret: 12345'));
    expect(problems.join('\n')).toMatch(/^relays\[0\]\.secret: .*got a value \(not shown: it is a secret\) \(agent\.yaml\)$/);
    expect(problems.join('\n')).not.toContain('12345');
  });
});
