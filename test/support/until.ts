// Waiting for a condition in tests and benchmarks: reads a value every pollMs
// until it is what was awaited. A timeout names what was awaited and what was
// last seen, so a failure explains itself.

export interface UntilOptions<T> {
  /** Default 15 000 ms. */
  timeoutMs?: number;
  /** Default 100 ms. */
  pollMs?: number;
  /** The last value as the timeout message shows it; default its JSON (first 500 characters). */
  describe?: (last: T) => string | Promise<string>;
}

/** Resolves with the first value of `read()` that `ok` accepts. */
export async function until<T>(what: string, read: () => T | Promise<T>, ok: (value: T) => boolean, options: UntilOptions<T> = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) {
      const last = options.describe ? await options.describe(value) : String(JSON.stringify(value)).slice(0, 500);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
  }
}
