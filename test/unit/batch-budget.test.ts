import { describe, expect, it } from 'vitest';
import { batchBodyBudget } from '../../agent/bandwidth/index.js';

describe('batchBodyBudget', () => {
  const MiB = 1 << 20;

  it('holds a batch to ~250 ms of the rate in force, scaled by the observed compression', () => {
    expect(batchBodyBudget({ rateBytesPerSecond: 200_000, maxInFlightBytes: MiB, compressionRatio: 1, maxBytes: MiB })).toBe(50_000);
    expect(batchBodyBudget({ rateBytesPerSecond: 200_000, maxInFlightBytes: MiB, compressionRatio: 6, maxBytes: MiB })).toBe(300_000);
  });

  it('holds a batch to a quarter of the in-flight cap, so the cap still bounds what queues ahead of a clinical batch', () => {
    expect(batchBodyBudget({ rateBytesPerSecond: null, maxInFlightBytes: 64 * 1024, compressionRatio: 1, maxBytes: MiB })).toBe(16 * 1024);
    expect(batchBodyBudget({ rateBytesPerSecond: 10_000_000, maxInFlightBytes: 64 * 1024, compressionRatio: 2, maxBytes: MiB })).toBe(32 * 1024);
  });

  it('never exceeds the configured ceiling, never goes below one byte, and ignores a nonsense ratio', () => {
    expect(batchBodyBudget({ rateBytesPerSecond: null, maxInFlightBytes: 8 * MiB, compressionRatio: 1, maxBytes: MiB })).toBe(MiB);
    expect(batchBodyBudget({ rateBytesPerSecond: 125_000_000, maxInFlightBytes: 125_000_000, compressionRatio: 5, maxBytes: MiB })).toBe(MiB);
    expect(batchBodyBudget({ rateBytesPerSecond: 1, maxInFlightBytes: MiB, compressionRatio: 1, maxBytes: MiB })).toBe(1);
    expect(batchBodyBudget({ rateBytesPerSecond: 200_000, maxInFlightBytes: MiB, compressionRatio: Number.NaN, maxBytes: MiB })).toBe(50_000);
  });
});
