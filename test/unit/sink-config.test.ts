import { describe, expect, it } from 'vitest';
import { parseRelayConfig } from '../../cloud-relay/config.js';
import { ConfigError } from '../../runtime/index.js';

const base = { dataDir: '/tmp/x', allowPlaintext: true };
const sink = { kind: 'nats-jetstream', name: 'bus', servers: ['nats://127.0.0.1:4222'], stream: 'WARDLINE' };

describe('sinks config', () => {
  it('fills every default, with units', () => {
    expect(parseRelayConfig({ ...base, sinks: [sink] }).sinks).toEqual([
      { ...sink, subjectPrefix: 'wardline', leaseTtlMs: 15_000, publishTimeoutMs: 5_000, pageEvents: 256, pollMs: 2_000, maxBackoffMs: 10_000 },
    ]);
    expect(parseRelayConfig({ ...base, sinks: [{ ...sink, leaseTtlMs: '30s', feeds: [{ hospital: 'h.1', feed: 'adt' }] }] }).sinks[0]).toMatchObject({ leaseTtlMs: 30_000, feeds: [{ hospital: 'h.1', feed: 'adt' }] });
  });

  it('refuses a duplicate name, a subject prefix with wildcards, a stream name with a dot and half a user', () => {
    const problems = (sinks: unknown[]): string => {
      try {
        parseRelayConfig({ ...base, sinks });
        return '';
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
    };
    expect(problems([sink, sink])).toMatch(/sinks\[1\]\.name: duplicate sink name/);
    expect(problems([{ ...sink, subjectPrefix: 'wardline.>' }])).toMatch(/sinks\[0\]\.subjectPrefix/);
    expect(problems([{ ...sink, stream: 'a.b' }])).toMatch(/sinks\[0\]\.stream/);
    expect(problems([{ ...sink, user: 'relay' }])).toMatch(/sinks\[0\]\.passwordFile/);
    expect(problems([{ ...sink, kind: 'kafka' }])).toMatch(/sinks\[0\]\.kind/);
  });
});
