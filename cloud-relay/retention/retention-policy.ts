import type { RetentionRule } from '../store/index.js';
import type { RetentionConfig, RetentionLimits } from './retention-config.js';

/**
 * Which limits apply to (hospital, feed): a rule naming both wins over one naming the
 * feed only, which wins over `default`. Pure.
 */
export function retentionLimitsFor(config: RetentionConfig, hospital: string, feed: string): RetentionLimits {
  const exact = config.feeds.find((rule) => rule.feed === feed && rule.hospital === hospital);
  const anyHospital = config.feeds.find((rule) => rule.feed === feed && rule.hospital === undefined);
  const chosen = exact ?? anyHospital;
  return chosen ? { maxAge: chosen.maxAge, maxBytes: chosen.maxBytes } : config.default;
}

/** The store's rule for (hospital, feed) at `nowMs`; undefined = keep everything. */
export function retentionRuleFor(config: RetentionConfig, hospital: string, feed: string, nowMs: number): RetentionRule | undefined {
  const limits = retentionLimitsFor(config, hospital, feed);
  if (limits.maxAge === undefined && limits.maxBytes === undefined) return undefined;
  const rule: RetentionRule = {};
  if (limits.maxAge !== undefined) rule.receivedBeforeMs = nowMs - limits.maxAge;
  if (limits.maxBytes !== undefined) rule.maxBytes = limits.maxBytes;
  return rule;
}
