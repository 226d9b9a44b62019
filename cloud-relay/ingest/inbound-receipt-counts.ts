// Receipts stored per hospital, channel and outcome since the relay started:
// the status page's "receipts" columns. In memory on purpose: the store keeps
// every receipt itself (vendors read them), this only counts what streams took.
import { RECEIPT_OUTCOMES, type ReceiptOutcome } from '../../protocol/index.js';

export type ReceiptCounts = Record<ReceiptOutcome, number>;

export class InboundReceiptCounts {
  private readonly counts = new Map<string, ReceiptCounts>();

  /** Counts one receipt newly stored. */
  add(hospital: string, channel: string, outcome: ReceiptOutcome): void {
    const key = JSON.stringify([hospital, channel]);
    let counts = this.counts.get(key);
    if (!counts) {
      counts = emptyReceiptCounts();
      this.counts.set(key, counts);
    }
    counts[outcome] += 1;
  }

  /** The channel's counts (zeros when none). */
  of(hospital: string, channel: string): ReceiptCounts {
    return { ...(this.counts.get(JSON.stringify([hospital, channel])) ?? emptyReceiptCounts()) };
  }
}

export function emptyReceiptCounts(): ReceiptCounts {
  return Object.fromEntries(RECEIPT_OUTCOMES.map((o) => [o, 0])) as ReceiptCounts;
}
