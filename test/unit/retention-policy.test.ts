import { describe, expect, it } from 'vitest';
import { RetentionConfig, retentionRuleFor } from '../../cloud-relay/retention/index.js';

const DAY_MS = 86_400_000;

describe('retention policy', () => {
  const config = RetentionConfig.parse({
    default: { maxAge: '90d', maxBytes: '50GiB' },
    feeds: [{ feed: 'adt', maxAge: '30d' }, { hospital: 'h1', feed: 'adt', maxBytes: 1000 }],
  });

  it('keeps everything forever when nothing is configured', () => {
    expect(retentionRuleFor(RetentionConfig.parse({}), 'h1', 'adt', 10 * DAY_MS)).toBeUndefined();
  });

  it('picks hospital+feed over feed over default', () => {
    const now = 100 * DAY_MS;
    expect(retentionRuleFor(config, 'h1', 'adt', now)).toEqual({ maxBytes: 1000 });
    expect(retentionRuleFor(config, 'h2', 'adt', now)).toEqual({ receivedBeforeMs: now - 30 * DAY_MS });
    expect(retentionRuleFor(config, 'h2', 'lab', now)).toEqual({ receivedBeforeMs: now - 90 * DAY_MS, maxBytes: 50 * 1024 ** 3 });
  });

  it('refuses a bad key or value, naming it', () => {
    const bad = RetentionConfig.safeParse({ default: { maxAgee: '1d' } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('maxAgee');
    const badAge = RetentionConfig.safeParse({ feeds: [{ feed: 'adt', maxAge: 'soon' }] });
    expect(badAge.error?.issues[0]?.path).toEqual(['feeds', 0, 'maxAge']);
  });
});
