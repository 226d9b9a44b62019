// Follows one inbound channel's receipts at the relay as a vendor does:
// GET /v1/hospitals/{h}/inbound/{channel}/receipts?after=<receiptSeq>&wait=<ms>, NDJSON,
// the cursor the highest receiptSeq seen.
//
// Failure modes handled:
//  1. Relay unreachable, 5xx, or the connection cut mid-answer: wait retryDelayMs and
//     ask again from the cursor; lines already read advanced it, a half line did not.
//  2. A long poll that ends with no receipt: ask again at once.
//  3. A receipt at or below the cursor (a relay that resends): ignored, never counted twice.
//  4. Each line's arrival is timed as it completes, not when the answer ends, so a relay
//     that streams receipts while the request is open is measured right.

import type { ReceiptJson } from '../../protocol/index.js';

/** A receipt as the relay serves it to the vendor (the relay's own shape, protocol/inbound-json.ts). */
export type VendorReceipt = ReceiptJson;

export interface ReceiptReaderOptions {
  /** Relay base URL, e.g. http://127.0.0.1:8443. */
  relayUrl: string;
  hospital: string;
  channel: string;
  vendorKey: string;
  /** Start after this receiptSeq. Default 0 (every receipt the relay still holds). */
  after?: number;
  /** The long poll's wait, ms. Default 10000. */
  waitMs?: number;
  /** Receipts per request. Default 500. */
  limit?: number;
  /** Pause after a failed request, ms. Default 500. */
  retryDelayMs?: number;
  /** Called for each new receipt with the time its line arrived (Date.now()). */
  onReceipt: (receipt: VendorReceipt, arrivedAtMs: number) => void;
  /** Called with what went wrong on a failed request (the reader carries on). */
  onError?: (error: Error) => void;
}

export const DEFAULT_RECEIPT_WAIT_MS = 10_000;
export const DEFAULT_RECEIPT_LIMIT = 500;

export class ReceiptReader {
  private cursorSeq: number;
  private controller: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private requestCount = 0;
  private failureCount = 0;

  constructor(private readonly options: ReceiptReaderOptions) {
    this.cursorSeq = options.after ?? 0;
  }

  /** The highest receiptSeq read. */
  get cursor(): number {
    return this.cursorSeq;
  }

  get requests(): number {
    return this.requestCount;
  }

  get failures(): number {
    return this.failureCount;
  }

  start(): void {
    if (this.loop) return;
    this.controller = new AbortController();
    this.loop = this.run(this.controller.signal);
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.loop;
    this.loop = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.readOnce(signal);
      } catch (error) {
        if (signal.aborted) return;
        this.failureCount++;
        this.options.onError?.(error as Error);
        await sleep(this.options.retryDelayMs ?? 500, signal);
      }
    }
  }

  private async readOnce(signal: AbortSignal): Promise<void> {
    const { relayUrl, hospital, channel, vendorKey } = this.options;
    const url = new URL(`/v1/hospitals/${encodeURIComponent(hospital)}/inbound/${encodeURIComponent(channel)}/receipts`, relayUrl);
    url.searchParams.set('after', String(this.cursorSeq));
    url.searchParams.set('wait', String(this.options.waitMs ?? DEFAULT_RECEIPT_WAIT_MS));
    url.searchParams.set('limit', String(this.options.limit ?? DEFAULT_RECEIPT_LIMIT));
    this.requestCount++;
    const response = await fetch(url, { headers: { authorization: `Bearer ${vendorKey}`, accept: 'application/x-ndjson' }, signal });
    if (response.status !== 200 || response.body === null) {
      const text = await response.text().catch(() => '');
      throw new Error(`receipts of ${channel}: HTTP ${response.status} ${text.slice(0, 200)}`);
    }
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of response.body) {
      pending += decoder.decode(chunk as Uint8Array, { stream: true });
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== '') this.take(JSON.parse(line) as VendorReceipt, Date.now());
        newline = pending.indexOf('\n');
      }
    }
    const last = (pending + decoder.decode()).trim();
    if (last !== '') this.take(JSON.parse(last) as VendorReceipt, Date.now());
  }

  private take(receipt: VendorReceipt, arrivedAtMs: number): void {
    if (!(receipt.receiptSeq > this.cursorSeq)) return;
    this.cursorSeq = receipt.receiptSeq;
    this.options.onReceipt(receipt, arrivedAtMs);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
