// The inbound: section: defaults with units, precise errors naming the key, the
// checks across parts, and the declaration Hello sends.
import { describe, expect, it } from 'vitest';
import { channelDeclaration, InboundConfigSchema, inboundIssues } from '../../agent/downlink/index.js';
import { AgentConfigSchema } from '../../agent/config.js';
import { DEFAULT_INBOUND_MAX_BODY_BYTES, DEFAULT_INBOUND_MAX_TTL_MS } from '../../protocol/index.js';

const sink = { kind: 'mllp', address: '10.0.0.5:2575', message: 'SRM^S01', mapping: { 'PID-3': { path: '$.patient.id', type: 'string' }, 'ARQ-1': '$.slot' } };

describe('inbound config', () => {
  it('fills the defaults', () => {
    const [c] = InboundConfigSchema.parse([{ channel: 'bookings', relay: 'cloud', ttl: '2h', sink }]);
    expect(c).toMatchObject({ ttl: 7_200_000, maxTtl: DEFAULT_INBOUND_MAX_TTL_MS, maxBodyBytes: DEFAULT_INBOUND_MAX_BODY_BYTES, accept: ['json'], concurrency: 8, quarantineAfter: 10, retry: { initialMs: 1_000, maxMs: 60_000 } });
    expect(c!.sink).toMatchObject({ kind: 'mllp', address: { host: '10.0.0.5', port: 2575 }, connections: 4 });
  });

  it('names the key that is wrong', () => {
    const bad = (entry: object): string[] => {
      const r = InboundConfigSchema.safeParse([{ channel: 'bookings', relay: 'cloud', sink, ...entry }]);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(bad({ keyPath: 'patient.id' })[0]).toMatch(/^0\.keyPath: expected a JSON path/);
    expect(bad({ ttl: '9d' })[0]).toMatch(/^0\.ttl: expected at most maxTtl/);
    expect(bad({ sink: { kind: 'ftp' } })[0]).toMatch(/^0\.sink\.kind/);
    expect(bad({ sink: { ...sink, mapping: { 'ZZZ-1': '$.x' } } })[0]).toMatch(/^0\.sink\.mapping\.ZZZ-1: SRM\^S01 has no ZZZ segment/);
    expect(bad({ accept: [] })[0]).toMatch(/^0\.accept: expected at least one/);
    expect(bad({ retry: { initialMs: 5_000, maxMs: 1_000 } })[0]).toMatch(/^0\.retry\.maxMs/);
    expect(bad({ concurrency: 0 })[0]).toMatch(/^0\.concurrency/);
    expect(bad({ colour: 'red' })[0]).toMatch(/colour/);
    // JSON into an MLLP sink with no message to build: every event would be quarantined, so it is refused here.
    expect(bad({ sink: { kind: 'mllp', address: '10.0.0.5:2575' } })[0]).toMatch(/^0\.sink\.message: a channel that accepts json needs the message/);
    expect(bad({ accept: ['hl7v2'], sink: { kind: 'mllp', address: '10.0.0.5:2575' } })).toEqual([]);
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

  it('is checked by the agent config: a channel naming an undeclared relay is refused at its key', () => {
    const r = AgentConfigSchema.safeParse({
      hospital: { id: 'h1' },
      dataDir: '/tmp/x',
      sources: [],
      relays: [{ name: 'cloud', address: 'relay:7443', secret: 's', allowPlaintext: true }],
      inbound: [{ channel: 'bookings', relay: 'elsewhere', sink }],
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['inbound.0.relay: expected one of the relays declared under relays (cloud)']);
  });

  it("declares the channel with the fields its sink's mapping needs (JSON channels only)", () => {
    const [json, hl7] = InboundConfigSchema.parse([
      { channel: 'bookings', relay: 'cloud', keyPath: '$.patient.id', sink },
      { channel: 'passthrough', relay: 'cloud', accept: ['hl7v2'], sink },
    ]);
    expect(channelDeclaration(json!)).toEqual({
      name: 'bookings',
      defaultTtlMs: 24 * 3_600_000,
      maxTtlMs: DEFAULT_INBOUND_MAX_TTL_MS,
      maxBodyBytes: DEFAULT_INBOUND_MAX_BODY_BYTES,
      contentTypes: ['json'],
      keyPath: '$.patient.id',
      requiredFields: [
        { path: '$.patient.id', type: 'string' },
        { path: '$.slot', type: 'any' },
      ],
    });
    expect(channelDeclaration(hl7!)).toMatchObject({ keyPath: '', requiredFields: [] });
  });
});
