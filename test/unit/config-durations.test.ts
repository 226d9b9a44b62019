// Every `…Ms` key of agent.yaml and relay.yaml takes a duration ("10s", "2m") as
// well as a number of milliseconds, and refuses anything else naming the key.
import { describe, expect, it } from 'vitest';
import { RelayConfig } from '../../cloud-relay/config.js';
import { ConfigError, parseConfigText } from '../../runtime/index.js';
import { agentConfigProblems, parseAgentYaml } from '../support/agent-config-problems.js';

const agentYaml = (replication: string, relay = '') => `
hospital: { id: demo-hospital }
dataDir: ./data
relays:
  - { name: cloud, address: "127.0.0.1:7443", secret: s3cret, allowPlaintext: true${relay} }
feeds:
  - { name: clinical, relay: cloud, streams: [adt] }
replication: { ${replication} }
`;

const relayYaml = (extra: string) => `dataDir: ./data\nallowPlaintext: true\n${extra}`;
const parseRelay = (text: string) => parseConfigText(text, 'relay.yaml', RelayConfig);

describe('durations in …Ms keys', () => {
  it('agent: replication.ackTimeoutMs, emptyBatchIntervalMs, backoff and the relay link timeouts take "10s" and numbers alike', () => {
    const config = parseAgentYaml(
      agentYaml('ackTimeoutMs: "10s", emptyBatchIntervalMs: 2m, backoff: { initialMs: 250ms, maxMs: 5000 }', ', connectTimeoutMs: 3s, handshakeTimeoutMs: 4000, keepaliveTimeMs: 1m, keepaliveTimeoutMs: "20s"'),
    );
    expect(config.replication).toMatchObject({ ackTimeoutMs: 10_000, emptyBatchIntervalMs: 120_000, backoff: { initialMs: 250, maxMs: 5_000 } });
    expect(config.relays[0]).toMatchObject({ connectTimeoutMs: 3_000, handshakeTimeoutMs: 4_000, keepaliveTimeMs: 60_000, keepaliveTimeoutMs: 20_000 });
  });

  it('agent: a value that is no duration is refused naming the key, the value expected and the file', () => {
    expect(agentConfigProblems(agentYaml('ackTimeoutMs: "10 parsecs"'))).toEqual([expect.stringMatching(/^replication\.ackTimeoutMs: expected a duration such as .*\(agent\.yaml\)$/)]);
    expect(agentConfigProblems(agentYaml('', ', keepaliveTimeMs: -5'))).toEqual([expect.stringMatching(/^relays\[0\]\.keepaliveTimeMs: expected a duration/)]);
  });

  it('relay: grpc.helloTimeoutMs, grpc.keepalive.*Ms and feedLimits.stalledResponseMs take durations and numbers', () => {
    const config = parseRelay(
      relayYaml('grpc:\n  helloTimeoutMs: 7s\n  keepalive: { minPingIntervalMs: "5s", pingIntervalMs: 20000, pingTimeoutMs: 1m }\nfeedLimits: { stalledResponseMs: 45s }\n'),
    );
    expect(config.grpc).toMatchObject({ helloTimeoutMs: 7_000, keepalive: { minPingIntervalMs: 5_000, pingIntervalMs: 20_000, pingTimeoutMs: 60_000 } });
    expect(config.feedLimits.stalledResponseMs).toBe(45_000);
  });

  it('relay: the bounds still hold (helloTimeoutMs 100 ms to 10 min)', () => {
    for (const [value, key] of [
      ['helloTimeoutMs: 11m', 'grpc.helloTimeoutMs'],
      ['helloTimeoutMs: 50ms', 'grpc.helloTimeoutMs'],
    ] as const) {
      let error: unknown;
      try {
        parseRelay(relayYaml(`grpc: { ${value} }\n`));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([expect.stringMatching(new RegExp(`^${key.replace('.', '\\.')}: expected a duration of at least 100 ms and at most 600000 ms.*\\(relay\\.yaml\\)$`))]);
    }
  });
});
