// What the replicator needs from a connection to a relay. The replicator never
// sees a socket: the gRPC implementation (grpc-relay-transport.ts) plugs in here,
// and tests can plug in anything that keeps this contract.
import type { CodecName } from '../../protocol/index.js';

export interface HelloInfo {
  hospitalId: string;
  agentId: string;
  agentVersion: string;
  secret: string;
  feeds: string[];
}

export interface WelcomeInfo {
  relayId: string;
  protocolVersion: number;
  /** The relay's durable high-water mark per feed named in Hello. */
  highWater: Map<string, number>;
  maxBatchBytes: number;
}

export interface OutboundBatch {
  feed: string;
  firstSeq: number;
  lastSeq: number;
  codec: CodecName;
  payload: Buffer;
  payloadSha256: Buffer;
  eventCount: number;
  uncompressedBytes: number;
  policyVersion: number;
}

export interface RelaySessionHandlers {
  onAck(feed: string, highWaterSeq: number, duplicate: boolean): void;
  onNack(feed: string, expectedSeq: number, detail: string): void;
  /** The session ended: by the relay, the network, or close(). Called once. */
  onClose(error: Error | undefined): void;
}

export interface RelaySession {
  readonly welcome: WelcomeInfo;
  /** Queues a batch; resolves when the transport can take more (backpressure). */
  send(batch: OutboundBatch): Promise<void>;
  /** Ends the session; onClose follows. */
  close(reason?: Error): void;
}

export interface RelayTransport {
  /** Opens a stream and completes the handshake; rejects if either fails. */
  open(hello: HelloInfo, handlers: RelaySessionHandlers): Promise<RelaySession>;
  /** Releases the channel. */
  shutdown(): void;
}
