import type { FeedNotifier } from '../store/index.js';
import type { FeedAccess } from './vendor-auth.js';

/**
 * Resolves when the feed advances past `cursor` or after `timeoutMs` (a gRPC
 * heartbeat is due then, an HTTP long-poll answers empty); rejects with the
 * signal's reason when it aborts. Waits on the notifier, never polls the store.
 */
export async function waitForAdvance(notifier: FeedNotifier, access: FeedAccess, cursor: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw signal.reason;
  // A controller of its own, not AbortSignal.any: a subscription waits thousands of times on one signal.
  const waiting = new AbortController();
  const onAbort = () => waiting.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => waiting.abort(WAIT_OVER), timeoutMs);
  try {
    await notifier.wait(access.hospital, access.feed, cursor, waiting.signal);
  } catch (error) {
    if (error !== WAIT_OVER) throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

const WAIT_OVER = Symbol('wait over');
