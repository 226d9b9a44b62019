import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../agent/store/group-commit.js';

describe('GroupCommit', () => {
  it('commits requests submitted in the same turn together, resolving each with its own result', async () => {
    const groups: number[][] = [];
    const commit = new GroupCommit<number, string>((requests) => {
      groups.push([...requests]);
      return requests.map((r) => `ok ${r}`);
    });
    const results = await Promise.all([1, 2, 3].map((n) => commit.submit(n)));
    expect(results).toEqual(['ok 1', 'ok 2', 'ok 3']);
    expect(groups).toEqual([[1, 2, 3]]);
    expect(commit.groupsCommitted).toBe(1);
  });

  it('splits a burst into groups of at most maxGroupSize, oldest first', async () => {
    const groups: number[][] = [];
    const commit = new GroupCommit<number, number>((requests) => {
      groups.push([...requests]);
      return [...requests];
    }, { maxGroupSize: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((n) => commit.submit(n)));
    expect(groups).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('caps a group by weight, yet commits a request heavier than the cap whole', async () => {
    const groups: number[][] = [];
    const commit = new GroupCommit<number, number>((requests) => {
      groups.push([...requests]);
      return [...requests];
    }, { maxGroupWeight: 500, weigh: (events) => events });
    // Requests weigh their number: an MLLP message is 1 event, an ingest post 500.
    await Promise.all([1, 1, 500, 1, 800, 200, 300].map((n) => commit.submit(n)));
    expect(groups).toEqual([[1, 1], [500], [1], [800], [200, 300]]);
  });

  it('when a group fails, retries each request alone so only the bad one fails', async () => {
    const commit = new GroupCommit<number, number>((requests) => {
      if (requests.includes(13)) throw new Error('unlucky row');
      return requests.map((r) => r * 10);
    });
    const outcomes = await Promise.allSettled([12, 13, 14].map((n) => commit.submit(n)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[0] as PromiseFulfilledResult<number>).value).toBe(120);
    expect(((outcomes[1] as PromiseRejectedResult).reason as Error).message).toBe('unlucky row');
  });
});
