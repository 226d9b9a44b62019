// `wardline feed tail`: the reference vendor consumer. Subscribes to a feed over
// gRPC from a cursor, prints each event as one NDJSON line (or a short text line),
// and with --follow keeps printing the live tail until interrupted.
import * as grpc from '@grpc/grpc-js';
import { FeedsService, eventFromProto, pb, toVendorEventJson, type FeedEvent, type SubscribeRequest } from '../protocol/index.js';

export interface FeedTailOptions {
  relay: string;
  key: string;
  feed: string;
  after: number;
  follow: boolean;
  hospital?: string;
  format: 'ndjson' | 'text';
  /** Stop after this many events (for scripts and tests). */
  limit?: number;
}

const FeedsClient = grpc.makeGenericClientConstructor(FeedsService, 'Feeds');

export function feedTailCommand(options: FeedTailOptions, signal?: AbortSignal): Promise<number> {
  const client = new FeedsClient(options.relay, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${options.key}`);
  const request: SubscribeRequest = pb.SubscribeRequest.create({
    feed: options.feed,
    after: options.after,
    follow: options.follow,
    hospitalId: options.hospital ?? '',
  });
  const call = (client as unknown as { subscribe(r: SubscribeRequest, m: grpc.Metadata): grpc.ClientReadableStream<FeedEvent> }).subscribe(request, metadata);
  let received = 0;
  let lastSeq = options.after;
  return new Promise<number>((resolve) => {
    // A cancelled call reports both an error (CANCELLED) and an end; answer once.
    let finished = false;
    const finish = (code: number, line: string): void => {
      if (finished) return;
      finished = true;
      process.stderr.write(`${line}\n`);
      client.close();
      resolve(code);
    };
    signal?.addEventListener('abort', () => call.cancel());
    call.on('data', (message: FeedEvent) => {
      const event = eventFromProto(pb.Event.create(message.event ?? {}) as InstanceType<typeof pb.Event>);
      lastSeq = event.seq;
      received++;
      if (options.format === 'text') {
        process.stdout.write(`${event.seq}\t${new Date(event.tsMs).toISOString()}\t${event.stream}\t${event.key}\t${event.op}\t${event.body.length} B\n`);
      } else {
        process.stdout.write(`${JSON.stringify({ hospital: message.hospitalId, feed: message.feed, ...toVendorEventJson(event) })}\n`);
      }
      if (options.limit !== undefined && received >= options.limit) call.cancel();
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (error.code === grpc.status.CANCELLED) return finish(0, `stopped after ${received} events; resume with --after ${lastSeq}`);
      finish(1, `feed tail failed: ${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`);
    });
    call.on('end', () => finish(0, `${received} events; resume with --after ${lastSeq}`));
  });
}
