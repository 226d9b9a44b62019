// The demo's vendor: it follows the replicated clinical feed over gRPC, as
// `wardline feed tail --follow` does, and reconnects when the relay goes away,
// from the last seq it saw. The address may be chosen afresh for every
// (re)connection, as a vendor behind DNS or a balancer in front of several relay
// processes would reach another process each time.
import * as grpc from '@grpc/grpc-js';
import { FeedsService, pb, type FeedEvent, type SubscribeRequest } from '../../protocol/index.js';

export interface DemoVendorOptions {
  /** Wait before reconnecting after the stream failed, in ms; default 1000. */
  retryMs?: number;
  /** Called for each event received, in the order received (heartbeats are not events). */
  onEvent?: (event: FeedEvent) => void;
}

/** A vendor following the clinical feed over gRPC, as `wardline feed tail` does. */
export class DemoVendor {
  received = 0;
  /** Heartbeats received: the relay's word that the stream is idle, not stalled. */
  heartbeats = 0;
  /** Subscriptions opened again after the first. */
  reconnects = 0;
  lastLine = '';
  /** The last seq received. */
  cursor = 0;
  /** The address of the current subscription. */
  currentAddress = '';
  private client: grpc.Client | undefined;
  private clientAddress = '';
  private call: grpc.ClientReadableStream<FeedEvent> | undefined;
  private stopped = false;
  private readonly address: () => string;

  constructor(
    address: string | (() => string),
    private readonly key: string,
    private readonly ca: Buffer | undefined,
    private readonly feed: string,
    private readonly options: DemoVendorOptions = {},
  ) {
    this.address = typeof address === 'string' ? () => address : address;
  }

  start(after = 0): void {
    if (this.stopped) return;
    const address = this.address();
    if (!this.client || address !== this.clientAddress) {
      this.client?.close();
      const credentials = this.ca ? grpc.credentials.createSsl(this.ca) : grpc.credentials.createInsecure();
      this.client = new (grpc.makeGenericClientConstructor(FeedsService, 'Feeds'))(address, credentials);
      this.clientAddress = address;
    }
    this.currentAddress = address;
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.key}`);
    const request: SubscribeRequest = pb.SubscribeRequest.create({ feed: this.feed, after, follow: true });
    const call = (this.client as unknown as { subscribe(r: SubscribeRequest, m: grpc.Metadata): grpc.ClientReadableStream<FeedEvent> }).subscribe(request, metadata);
    this.call = call;
    this.cursor = after;
    call.on('data', (message: FeedEvent) => {
      // A call given up by reconnect() may still hand over what it had read: the new one starts from `cursor`.
      if (this.call !== call) return;
      if (!message.event) {
        this.heartbeats++;
        return;
      }
      this.received++;
      this.cursor = Number(message.event.seq);
      this.lastLine = `seq ${this.cursor} ${message.event.stream}/${message.event.key} ${message.event.headers?.messageType ?? ''}`.trim();
      this.options.onEvent?.(message);
    });
    call.on('error', () => {
      if (this.call !== call || this.stopped) return;
      this.call = undefined;
      this.reconnects++;
      setTimeout(() => this.start(this.cursor), this.options.retryMs ?? 1000);
    });
  }

  /** Ends the current subscription and opens another (at the address chosen now) from the last seq received. */
  reconnect(): void {
    const call = this.call;
    if (!call) return;
    this.call = undefined;
    call.cancel();
    this.reconnects++;
    this.start(this.cursor);
  }

  stop(): void {
    this.stopped = true;
    this.call?.cancel();
    this.client?.close();
  }
}
