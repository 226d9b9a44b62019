// The gRPC Feeds.Commit and Feeds.GetConsumer handlers: a vendor key's named
// consumers, with the key and grant checked as Feeds.Subscribe checks them.
// Each call takes one of the key's read slots (feedLimits.concurrentReadsPerKey)
// while it runs, so commits in a tight loop cannot crowd out the store.
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { pb, type CommitRequest, type ConsumerPosition, type ConsumerRequest } from '../../protocol/index.js';
import { BadRequestError, RelayError } from '../errors.js';
import { toGrpcStatus } from '../grpc/index.js';
import type { RelayMetrics } from '../status/index.js';
import { consumerPositionAnswer, type ConsumerPositions, type ConsumerPositionView } from './consumer-positions.js';
import { consumerName, cursor, feedName, hospitalId } from './subscribe-request.js';
import type { FeedAccess, VendorAuth } from './vendor-auth.js';
import type { VendorSlots } from './vendor-slots.js';

export type CommitCall = ServerUnaryCall<CommitRequest, ConsumerPosition>;
export type CommitCallback = sendUnaryData<ConsumerPosition>;
export type ConsumerCall = ServerUnaryCall<ConsumerRequest, ConsumerPosition>;
export type ConsumerCallback = sendUnaryData<ConsumerPosition>;

export interface FeedConsumerServiceOptions {
  vendors: VendorAuth;
  consumers: ConsumerPositions;
  slots: VendorSlots;
  metrics: RelayMetrics;
  logger: Logger;
}

export class FeedConsumerService {
  constructor(private readonly options: FeedConsumerServiceOptions) {}

  /** Feeds.Commit: moves the consumer's committed cursor (forwards or back, within the feed's range). */
  readonly commit = (call: CommitCall, callback: CommitCallback): void => {
    void this.answer(call, callback, 'commit', async (access, consumer) => {
      const at = cursor(call.request.cursor, 'cursor');
      return this.options.consumers.commit(access, consumer, at);
    });
  };

  /** Feeds.GetConsumer: the consumer's committed position; NOT_FOUND for a name never committed. */
  readonly getConsumer = (call: ConsumerCall, callback: ConsumerCallback): void => {
    void this.answer(call, callback, 'get', (access, consumer) => this.options.consumers.get(access, consumer));
  };

  private async answer(
    call: CommitCall | ConsumerCall,
    callback: sendUnaryData<ConsumerPosition>,
    action: 'commit' | 'get',
    run: (access: FeedAccess, consumer: string) => Promise<ConsumerPositionView>,
  ): Promise<void> {
    let release: (() => void) | undefined;
    let log = this.options.logger.child({ peer: call.getPeer(), rpc: action === 'commit' ? 'Commit' : 'GetConsumer' });
    try {
      const request = call.request;
      const feed = feedName(request.feed);
      const hospital = hospitalId(request.hospitalId);
      const consumer = consumerName(request.consumer);
      if (consumer === undefined) throw new BadRequestError('consumer: required: name the consumer (1-64 letters, digits, ".", "_" or "-")', 'consumer');
      const access = this.options.vendors.authorize(authorizationOf(call), feed, hospital);
      log = log.child({ vendor: access.vendor, hospital: access.hospital, feed, consumer });
      release = this.options.slots.acquire(access.vendor, 'read');
      const view = await run(access, consumer);
      if (action === 'commit') log.info({ cursor: view.cursor }, 'consumer cursor committed');
      callback(null, positionMessage(view));
    } catch (error) {
      if (error instanceof RelayError) {
        this.options.metrics.streamErrors.inc({ code: error.code });
        log.warn({ code: error.code, reason: error.message }, 'consumer request refused');
      } else {
        this.options.metrics.streamErrors.inc({ code: 'internal' });
        log.error({ err: error }, 'consumer request failed');
      }
      callback(toGrpcStatus(error));
    } finally {
      release?.();
    }
  }
}

function positionMessage(view: ConsumerPositionView): ConsumerPosition {
  return pb.ConsumerPosition.create(consumerPositionAnswer(view));
}

function authorizationOf(call: CommitCall | ConsumerCall): string | undefined {
  const value = call.metadata.get('authorization')[0];
  return value === undefined ? undefined : value.toString();
}
