// Each part turns its config section into its own options (what agent/main.ts
// used to spell out inline): the figures must be the ones main.ts handed on.
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, DEFAULT_ACK_PERSIST_INTERVAL_MS, DEFAULT_BATCH_MAX_BYTES } from '../../agent/config.js';
import { timetableOf, uplinkOptions } from '../../agent/bandwidth/index.js';
import { diskBudgetOptions } from '../../agent/health/disk-config.js';
import { loadRelayCredentials, maxSendBytesFor, relayTransportOptions, replicatorTuning } from '../../agent/replication/replication-config.js';
import { journalTrimmerTuning } from '../../agent/store/journal-config.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConfigText, SecretFileCheck } from '../../runtime/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const parse = (text: string) => parseConfigText(text, 'agent.yaml', AgentConfigSchema);
const base = `
hospital: { id: demo-hospital }
dataDir: ./data
relays:
  - { name: cloud, address: "127.0.0.1:7443", secret: s3cret, allowPlaintext: true, connectTimeoutMs: 1500 }
`;

describe('part config → part options', () => {
  it('sizes the relay transport for two batch bodies and 64 KiB of envelope', () => {
    const config = parse(base + 'replication: { batchMaxBytes: 500000 }\n');
    expect(maxSendBytesFor(DEFAULT_BATCH_MAX_BYTES)).toBe(1024 * 1024 * 2 + 64 * 1024);
    expect(relayTransportOptions(config.relays[0]!, 0, config.replication, undefined)).toEqual({
      address: '127.0.0.1:7443',
      connectTimeoutMs: 1500,
      handshakeTimeoutMs: 5000,
      keepaliveTimeMs: 5000,
      keepaliveTimeoutMs: 5000,
      maxSendBytes: 500_000 * 2 + 64 * 1024,
      tls: undefined,
      configKey: 'relays[0]',
    });
  });

  it('gives every replicator the replication section, typed codec and the ack persist interval', () => {
    const config = parse(base + 'replication: { codec: gzip, batchMaxEvents: 10, backoff: { maxMs: 9000 } }\n');
    const codec: 'none' | 'gzip' | 'deflate' | 'brotli' = config.replication.codec;
    expect(codec).toBe('gzip');
    expect(replicatorTuning(config.replication)).toEqual({
      codec: 'gzip',
      compressionLevel: 'adaptive',
      limits: { maxEvents: 10, maxBytes: DEFAULT_BATCH_MAX_BYTES, maxScan: 20_000 },
      maxInFlight: 4,
      ackTimeoutMs: 10_000,
      emptyBatchIntervalMs: 1000,
      ackPersistIntervalMs: DEFAULT_ACK_PERSIST_INTERVAL_MS,
      backoff: config.replication.backoff,
    });
    expect(DEFAULT_ACK_PERSIST_INTERVAL_MS).toBe(1000);
  });

  it('builds the timetable and the uplink from the bandwidth section, in the configured zone', () => {
    const config = parse(base + 'bandwidth: { rate: 1MB/s, burstBytes: 64KiB, timezone: Asia/Shanghai, timetable: [{ name: night, from: "22:00", to: "24:00", rate: unlimited }] }\n');
    const timetable = timetableOf(config.bandwidth);
    expect(timetable).toMatchObject({ baseRateBytesPerSecond: 1_000_000, classes: ['clinical', 'standard', 'bulk'], timeZone: 'Asia/Shanghai' });
    expect(timetable.windows).toBe(config.bandwidth.timetable);
    // 12:00 in Shanghai: outside the night window, the base rate applies.
    const options = uplinkOptions(config.bandwidth, Date.parse('2026-01-05T04:00:00Z'));
    expect(options).toMatchObject({ classes: ['clinical', 'standard', 'bulk'], burstBytes: 65_536, maxInFlightBytes: undefined, timeZone: 'Asia/Shanghai' });
    expect(options.policy?.rateBytesPerSecond).toBe(1_000_000);
    expect(timetableOf(parse(base).bandwidth).timeZone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
  });

  it('maps the disk and journal sections onto the budget and the trimmer', () => {
    const config = parse(base + 'disk: { warnAtPercent: 70, criticalAtFreeBytes: 1GiB }\njournal: { retention: 2d, trimChunkRows: 500 }\n');
    expect(diskBudgetOptions(config.disk)).toEqual({
      thresholds: { warnAtPercent: 70, criticalAtPercent: 95, warnAtFreeBytes: undefined, criticalAtFreeBytes: 1024 ** 3, hysteresisPercent: 2 },
      forecastWindowMs: 15 * 60_000,
    });
    expect(journalTrimmerTuning(config.journal)).toEqual({ retentionMs: 2 * 86_400_000, dedupeRetentionMs: config.journal.dedupeRetention, chunkRows: 500 });
  });

  it('reads each relay\'s secret (inline, from its file, or none under mutual TLS) and names the key it cannot read', () => {
    const dir = makeTempDir('wardline-relay-credentials-');
    try {
      writeFileSync(join(dir.path, 'secret'), 'from-file\n', { mode: 0o600 });
      const config = parse(`
hospital: { id: demo-hospital }
dataDir: ./data
relays:
  - { name: inline, address: "127.0.0.1:7443", secret: s3cret, allowPlaintext: true }
  - { name: filed, address: "127.0.0.1:7444", secretFile: secret, allowPlaintext: true }
  - { name: missing, address: "127.0.0.1:7445", secretFile: absent, allowPlaintext: true }
`);
      const at = (path: string) => join(dir.path, path);
      const { relaySecrets, relayTls } = loadRelayCredentials(config.relays.slice(0, 2), at, 'agent.yaml', new SecretFileCheck());
      expect([...relaySecrets]).toEqual([['inline', 's3cret'], ['filed', 'from-file']]);
      expect(relayTls.size).toBe(0);
      expect(() => loadRelayCredentials(config.relays, at, 'agent.yaml', new SecretFileCheck())).toThrow(ConfigError);
      expect(() => loadRelayCredentials(config.relays, at, 'agent.yaml', new SecretFileCheck())).toThrow(/relays\[2\]\.secretFile: cannot read .*absent/);
    } finally {
      dir.remove();
    }
  });
});
