// Tries one delivery up to `attempts` times with doubling waits between tries:
// the webhook, the robots and email share the schedule, so a receiver that is
// down costs each sink the same few seconds and never the agent's progress.

/** Wait before the second try, in ms; doubled for each further try. */
export const RETRY_DELAY_MS = 1_000;

/** Why one try failed; `final` when asking again will not help (a 4xx, a refused login). */
export interface FailedTry {
  error: Error;
  final?: boolean;
}

export interface DeliveryRetriesOptions {
  /** Tries (the first and the retries). */
  attempts: number;
  sleep: (ms: number) => Promise<void>;
  /** True once the sink closed: the remaining tries are skipped. */
  stopped: () => boolean;
}

/** A setTimeout promise that does not hold the process open. */
export const unrefSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Resolves when a try resolves undefined; rejects with the last failed try's error. */
export async function deliverWithRetries(options: DeliveryRetriesOptions, attempt: () => Promise<FailedTry | undefined>): Promise<void> {
  let last: FailedTry | undefined;
  for (let n = 0; n < options.attempts && !options.stopped(); n++) {
    if (n > 0) await options.sleep(RETRY_DELAY_MS * 2 ** (n - 1));
    last = await attempt();
    if (last === undefined) return;
    if (last.final) break;
  }
  throw last?.error ?? new Error('closed before delivery');
}
