// The demo's vendor: it follows the replicated clinical feed over gRPC, as
// `wardline feed tail --follow` does, and reconnects when the relay goes away.
import * as grpc from '@grpc/grpc-js';
import { FeedsService, pb, type FeedEvent, type SubscribeRequest } from '../../protocol/index.js';

/** A vendor following the clinical feed over gRPC, as `wardline feed tail` does. */
export class DemoVendor {
  received = 0;
  lastLine = '';
  private readonly client: grpc.Client;
  private call: grpc.ClientReadableStream<FeedEvent> | undefined;
  private stopped = false;

  constructor(address: string, private readonly key: string, ca: Buffer | undefined, private readonly feed: string) {
    const credentials = ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createInsecure();
    this.client = new (grpc.makeGenericClientConstructor(FeedsService, 'Feeds'))(address, credentials);
  }

  start(after = 0): void {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.key}`);
    const request: SubscribeRequest = pb.SubscribeRequest.create({ feed: this.feed, after, follow: true });
    const call = (this.client as unknown as { subscribe(r: SubscribeRequest, m: grpc.Metadata): grpc.ClientReadableStream<FeedEvent> }).subscribe(request, metadata);
    this.call = call;
    let cursor = after;
    call.on('data', (message: FeedEvent) => {
      this.received++;
      cursor = Number(message.event?.seq ?? cursor);
      this.lastLine = `seq ${cursor} ${message.event?.stream}/${message.event?.key} ${message.event?.headers?.messageType ?? ''}`.trim();
    });
    call.on('error', () => {
      if (!this.stopped) setTimeout(() => this.start(cursor), 1000);
    });
  }

  stop(): void {
    this.stopped = true;
    this.call?.cancel();
    this.client.close();
  }
}

