import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Writes one message to a gRPC server stream and, when its buffer is full,
 * waits for 'drain' so a slow peer slows the relay instead of growing its
 * memory. Rejects with an AbortError when `signal` aborts (the call ended).
 */
export async function writeMessage(call: Writable, message: unknown, signal: AbortSignal): Promise<void> {
  if (call.write(message)) return;
  await once(call, 'drain', { signal });
}
