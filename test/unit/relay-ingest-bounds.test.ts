import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/index.js';
import { parseRelayConfig } from '../../cloud-relay/config.js';
import { peerHost } from '../../cloud-relay/ingest/replication-service.js';

describe('relay ingest bounds', () => {
  it('counts unauthenticated streams by the peer address without its port', () => {
    expect(peerHost('10.1.2.3:50123')).toBe('10.1.2.3');
    expect(peerHost('[2001:db8::7]:443')).toBe('2001:db8::7');
    expect(peerHost('2001:db8::7')).toBe('2001:db8::7');
    expect(peerHost('unix:/run/wardline.sock')).toBe('unix');
    expect(peerHost('unknown')).toBe('unknown');
  });

  it('names the key and the rule for a bad Hello deadline or cap', () => {
    const problems = (grpc: Record<string, unknown>) => {
      try {
        parseRelayConfig({ dataDir: '/tmp/x', allowPlaintext: true, grpc }, 'relay.yaml');
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ helloTimeoutMs: 10 })).toEqual([expect.stringMatching(/^grpc\.helloTimeoutMs: .*100/)]);
    expect(problems({ maxUnauthenticatedStreamsPerPeer: 0 })).toEqual([expect.stringMatching(/^grpc\.maxUnauthenticatedStreamsPerPeer: /)]);
  });
});
