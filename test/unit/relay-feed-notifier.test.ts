import { describe, expect, it } from 'vitest';
import { FeedNotifier } from '../../cloud-relay/store/feed-notifier.js';

describe('FeedNotifier', () => {
  it('wakes a waiter once its feed passes the cursor, and not for other feeds', async () => {
    const notifier = new FeedNotifier();
    let woke = false;
    const waiting = notifier.wait('h1', 'adt', 10, new AbortController().signal).then(() => (woke = true));
    notifier.advanced('h1', 'results', 50);
    notifier.advanced('h2', 'adt', 50);
    notifier.advanced('h1', 'adt', 10);
    await Promise.resolve();
    expect(woke).toBe(false);
    expect(notifier.waiting).toBe(1);
    notifier.advanced('h1', 'adt', 11);
    await waiting;
    expect(woke).toBe(true);
    expect(notifier.waiting).toBe(0);
  });

  it('returns at once when the feed already moved past the cursor (no lost wake-up)', async () => {
    const notifier = new FeedNotifier();
    notifier.advanced('h1', 'adt', 5);
    await notifier.wait('h1', 'adt', 4, new AbortController().signal);
    expect(notifier.waiting).toBe(0);
  });

  it('rejects with the abort reason and forgets the waiter', async () => {
    const notifier = new FeedNotifier();
    const controller = new AbortController();
    const waiting = notifier.wait('h1', 'adt', 0, controller.signal);
    expect(notifier.waiting).toBe(1);
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(notifier.waiting).toBe(0);
    await expect(notifier.wait('h1', 'adt', 0, controller.signal)).rejects.toThrow('gone');
  });

  it('ignores a mark that moves backwards', async () => {
    const notifier = new FeedNotifier();
    notifier.advanced('h1', 'adt', 9);
    notifier.advanced('h1', 'adt', 3);
    await notifier.wait('h1', 'adt', 8, new AbortController().signal);
  });
});
