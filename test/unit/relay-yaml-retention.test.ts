// The `retention:` example in examples/relay.yaml is commented out (the default
// keeps every event); uncommented, it must be a valid section meaning what its
// comments say, so an operator who copies it gets those rules.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadRelayConfig } from '../../cloud-relay/config.js';
import { RetentionConfig, retentionRuleFor } from '../../cloud-relay/retention/index.js';

const EXAMPLE = join(import.meta.dirname, '../../examples/relay.yaml');
const DAY_MS = 24 * 60 * 60 * 1000;

/** The commented block starting at `# <key>:` (its first line at `indent`), uncommented. */
function commentedBlock(text: string, key: string, indent = ''): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === `${indent}# ${key}:`);
  expect(start, `${indent}# ${key}: in examples/relay.yaml`).toBeGreaterThanOrEqual(0);
  const block: string[] = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith(`${indent}#`)) break;
    block.push(line.slice(indent.length).replace(/^# ?/, ''));
  }
  return block.join('\n');
}

describe('examples/relay.yaml retention', () => {
  it('keeps every event as shipped (the section is commented out)', () => {
    const config = loadRelayConfig(EXAMPLE);
    expect(config.retention).toEqual(RetentionConfig.parse({}));
    expect(retentionRuleFor(config.retention, 'h-zj-001', 'adt', Date.now())).toBeUndefined();
  });

  it('uncommented, gives adt 7 days, h-zj-001 lab-results 50 GB and every other feed 30 days, swept every 10 minutes', () => {
    const section = parse(commentedBlock(readFileSync(EXAMPLE, 'utf8'), 'retention')) as { retention: unknown };
    const retention = RetentionConfig.parse(section.retention);
    const now = Date.UTC(2026, 5, 1);
    expect(retention.sweepIntervalMs).toBe(10 * 60 * 1000);
    expect(retentionRuleFor(retention, 'h-zj-002', 'adt', now)).toEqual({ receivedBeforeMs: now - 7 * DAY_MS });
    expect(retentionRuleFor(retention, 'h-zj-001', 'lab-results', now)).toEqual({ maxBytes: 50 * 1000 ** 3 });
    expect(retentionRuleFor(retention, 'h-zj-002', 'lab-results', now)).toEqual({ receivedBeforeMs: now - 30 * DAY_MS });
  });

  it('documents feedLimits.heartbeatMs with its default', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    expect(text).toContain('  # heartbeatMs: 5000\n');
    expect(loadRelayConfig(EXAMPLE).feedLimits.heartbeatMs).toBe(5000);
  });
});
