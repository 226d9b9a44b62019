import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { StalledResponseError } from '../errors.js';

/**
 * Writes one message to a gRPC server stream (or an HTTP response) and, when its
 * buffer is full, waits for 'drain' so a slow peer slows the relay instead of
 * growing its memory. Rejects with an AbortError when `signal` aborts (the call
 * ended), and with StalledResponseError when `stallMs` is given and the peer
 * read nothing for that long (the caller then cuts the call).
 */
export async function writeMessage(call: Writable, message: unknown, signal: AbortSignal, stallMs?: number): Promise<void> {
  if (call.write(message)) return;
  if (stallMs === undefined) {
    await once(call, 'drain', { signal });
    return;
  }
  const stall = AbortSignal.timeout(stallMs);
  try {
    await once(call, 'drain', { signal: AbortSignal.any([signal, stall]) });
  } catch (error) {
    if (stall.aborted && !signal.aborted) throw new StalledResponseError(stallMs);
    throw error;
  }
}
