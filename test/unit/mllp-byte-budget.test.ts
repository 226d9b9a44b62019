import { describe, expect, it } from 'vitest';
import { MllpByteBudget } from '../../agent/sources/mllp/mllp-byte-budget.js';

describe('MllpByteBudget', () => {
  it('keeps unfinished frames to 3/4 of the budget, so complete messages still fit', () => {
    const budget = new MllpByteBudget(1000);
    expect(budget.tryReserve(700, 'partial')).toBe(true);
    expect(budget.tryReserve(100, 'partial')).toBe(false);
    expect(budget.tryReserve(300, 'complete')).toBe(true);
    expect(budget.tryReserve(1, 'complete')).toBe(false);
    expect(budget.usedBytes).toBe(1000);
    budget.release(300, 'complete');
    budget.release(700, 'partial');
    expect(budget.usedBytes).toBe(0);
    budget.release(5, 'partial');
    expect(budget.usedBytes).toBe(0);
  });
});
