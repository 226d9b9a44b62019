import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../agent/config.js';
import { ConfigError, parseByteSize, parseConfigText, parseDuration } from '../../runtime/index.js';
import { agentConfigProblems } from '../support/agent-config-problems.js';

const parse = (text: string) => parseConfigText(text, 'agent.yaml', AgentConfigSchema);
const minimal = `hospital: { id: demo-hospital }\ndataDir: ./data\n`;

const problemsOf = agentConfigProblems;

describe('config units', () => {
  it('reads byte sizes in decimal and binary units', () => {
    expect(parseByteSize('2GB')).toBe(2_000_000_000);
    expect(parseByteSize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseByteSize('1.5 kb')).toBe(1500);
    expect(parseByteSize('4096')).toBe(4096);
    expect(parseByteSize('2 gigs')).toBeUndefined();
    expect(parseByteSize('-1GB')).toBeUndefined();
  });

  it('reads durations', () => {
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1w')).toBe(604_800_000);
    expect(parseDuration('7')).toBeUndefined();
    expect(parseDuration('7 days')).toBeUndefined();
  });
});

describe('disk and journal config', () => {
  it('has defaults: warning at 80 %, critical at 95 %, a reading every 10 s, 7 days of retention, nothing critical', () => {
    const config = parse(minimal + 'sources: [{ kind: mllp, name: lis }]\n');
    expect(config.disk).toEqual({ warnAtPercent: 80, criticalAtPercent: 95, hysteresisPercent: 2, sampleIntervalMs: 10_000, forecastWindowMs: 900_000 });
    expect(config.journal).toEqual({ retention: 604_800_000, dedupeRetention: 604_800_000, trimIntervalMs: 60_000, trimChunkRows: 1_000 });
    expect(config.sources[0]!.critical).toBe(false);
    expect(config.http.critical).toBe(false);
  });

  it('takes human units and marks critical sources', () => {
    const config = parse(
      minimal +
        `http: { critical: true }
sources: [{ kind: mllp, name: lis, critical: true }]
disk: { warnAtFreeBytes: 10GiB, criticalAtFreeBytes: "2GB", sampleIntervalMs: 5s }
journal: { retention: 3d, dedupeRetention: 86400000, trimIntervalMs: 1m }
`,
    );
    expect(config.disk).toMatchObject({ warnAtFreeBytes: 10 * 2 ** 30, criticalAtFreeBytes: 2e9, sampleIntervalMs: 5_000 });
    expect(config.journal).toMatchObject({ retention: 3 * 86_400_000, dedupeRetention: 86_400_000, trimIntervalMs: 60_000 });
    expect(config.sources[0]!.critical).toBe(true);
    expect(config.http.critical).toBe(true);
  });

  it('names the key, the value and what was expected for a bad value', () => {
    expect(problemsOf(minimal + 'disk: { criticalAtFreeBytes: "2 gigs" }\n')).toEqual([
      'disk.criticalAtFreeBytes: expected a byte size such as "2GB", "512MiB" or a number of bytes, got "2 gigs" (agent.yaml)',
    ]);
    expect(problemsOf(minimal + 'journal: { retention: "a week" }\n')).toEqual([
      'journal.retention: expected a duration such as "7d", "12h", "10s", "250ms" or a number of milliseconds, got "a week" (agent.yaml)',
    ]);
    expect(problemsOf(minimal + 'disk: { sampleIntervalMs: 5 }\n')[0]).toMatch(/^disk\.sampleIntervalMs: expected a duration of at least 100 ms/);
    expect(problemsOf(minimal + 'disk: { criticalAtPercent: 120 }\n')[0]).toMatch(/^disk\.criticalAtPercent: .*got 120 \(agent\.yaml\)$/);
    expect(problemsOf(minimal + 'disk: { criticalAtPct: 90 }\n')).toEqual(['disk.criticalAtPct: unknown key (agent.yaml)']);
  });

  it('refuses thresholds in the wrong order', () => {
    expect(problemsOf(minimal + 'disk: { warnAtPercent: 95, criticalAtPercent: 90 }\n')).toEqual([
      'disk.criticalAtPercent: expected more than warnAtPercent (95), got 90 (agent.yaml)',
    ]);
    expect(problemsOf(minimal + 'disk: { warnAtFreeBytes: 1GB, criticalAtFreeBytes: 5GB }\n')).toEqual([
      'disk.criticalAtFreeBytes: expected fewer bytes than warnAtFreeBytes (1.00 GB), got "5GB" (agent.yaml)',
    ]);
    expect(problemsOf(minimal + 'disk: { warnAtPercent: 10, criticalAtPercent: 20, hysteresisPercent: 15 }\n')).toEqual([
      'disk.hysteresisPercent: expected less than warnAtPercent (10), or warning could never clear, got 15 (agent.yaml)',
    ]);
  });
});
