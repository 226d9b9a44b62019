// The inbound: section: defaults with units, precise errors naming the key, the
// checks across parts, and the declaration Hello sends.
import { describe, expect, it } from 'vitest';
import { channelDeclaration, InboundConfigSchema, inboundIssues } from '../../agent/downlink/index.js';
import { DEFAULT_INBOUND_MAX_BODY_BYTES, DEFAULT_INBOUND_MAX_TTL_MS } from '../../protocol/index.js';

const sink = { kind: 'mllp', host: '10.0.0.5', port: 2575 };

describe('inbound config', () => {
  it('fills the defaults', () => {
    const [c] = InboundConfigSchema.parse([{ channel: 'bookings', relay: 'cloud', ttl: '2h', sink }]);
    expect(c).toMatchObject({ ttl: 7_200_000, maxTtl: DEFAULT_INBOUND_MAX_TTL_MS, maxBodyBytes: DEFAULT_INBOUND_MAX_BODY_BYTES, accept: ['json'], concurrency: 8, quarantineAfter: 10, retry: { initialMs: 1_000, maxMs: 60_000 } });
    expect(c!.sink).toEqual(sink);
  });

  it('names the key that is wrong', () => {
    const bad = (entry: object): string[] => {
      const r = InboundConfigSchema.safeParse([{ channel: 'bookings', relay: 'cloud', sink, ...entry }]);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(bad({ keyPath: 'patient.id' })[0]).toMatch(/^0\.keyPath: expected a JSON path/);
    expect(bad({ ttl: '9d' })[0]).toMatch(/^0\.ttl: expected at most maxTtl/);
    expect(bad({ sink: { kind: 'ftp' } })[0]).toMatch(/^0\.sink\.kind/);
    expect(bad({ accept: [] })[0]).toMatch(/^0\.accept: expected at least one/);
    expect(bad({ retry: { initialMs: 5_000, maxMs: 1_000 } })[0]).toMatch(/^0\.retry\.maxMs/);
    expect(bad({ concurrency: 0 })[0]).toMatch(/^0\.concurrency/);
    expect(bad({ colour: 'red' })[0]).toMatch(/colour/);
  });

  it('checks each relay is declared and channel names are unique', () => {
    const inbound = InboundConfigSchema.parse([
      { channel: 'bookings', relay: 'cloud', sink },
      { channel: 'bookings', relay: 'other', sink },
    ]);
    expect(inboundIssues(inbound, new Set(['cloud']))).toEqual([
      { path: ['inbound', 1, 'relay'], message: 'expected one of the relays declared under relays (cloud)' },
      { path: ['inbound', 1, 'channel'], message: 'expected a channel name not used by another inbound channel' },
    ]);
  });

  it('declares the channel with the fields its sink needs (JSON channels only)', () => {
    const [json, hl7] = InboundConfigSchema.parse([
      { channel: 'bookings', relay: 'cloud', keyPath: '$.patient.id', sink },
      { channel: 'passthrough', relay: 'cloud', accept: ['hl7v2'], sink },
    ]);
    const needs = () => [{ path: '$.patient.id', type: 'string' as const }];
    expect(channelDeclaration(json!, needs)).toEqual({
      name: 'bookings',
      defaultTtlMs: 24 * 3_600_000,
      maxTtlMs: DEFAULT_INBOUND_MAX_TTL_MS,
      maxBodyBytes: DEFAULT_INBOUND_MAX_BODY_BYTES,
      contentTypes: ['json'],
      keyPath: '$.patient.id',
      requiredFields: [{ path: '$.patient.id', type: 'string' }],
    });
    expect(channelDeclaration(hl7!, needs)).toMatchObject({ keyPath: '', requiredFields: [] });
  });
});
