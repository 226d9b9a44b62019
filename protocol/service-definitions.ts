// grpc-js service definitions for the services in wardline.proto, wired to the
// protobufjs static classes (grpc-js needs only paths and (de)serializers).
import type { ServiceDefinition } from '@grpc/grpc-js';
import { pb } from './messages.js';

export type AgentMessage = InstanceType<typeof pb.AgentMessage>;
export type RelayMessage = InstanceType<typeof pb.RelayMessage>;
export type SubscribeRequest = InstanceType<typeof pb.SubscribeRequest>;
export type FeedEvent = InstanceType<typeof pb.FeedEvent>;
export type CommitRequest = InstanceType<typeof pb.CommitRequest>;
export type ConsumerRequest = InstanceType<typeof pb.ConsumerRequest>;
export type ConsumerPosition = InstanceType<typeof pb.ConsumerPosition>;
export type ExportRequest = InstanceType<typeof pb.ExportRequest>;
export type ExportPart = InstanceType<typeof pb.ExportPart>;
export type InboundWriteRequest = InstanceType<typeof pb.InboundWriteRequest>;
export type InboundGetRequest = InstanceType<typeof pb.InboundGetRequest>;
export type ReceiptsRequest = InstanceType<typeof pb.ReceiptsRequest>;
export type InboundStatusMessage = InstanceType<typeof pb.InboundStatus>;

interface MessageClass<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

function serializer<T>(type: MessageClass<T>): (message: T) => Buffer {
  return (message) => {
    const bytes = type.encode(message).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<T>(type: MessageClass<T>): (bytes: Buffer) => T {
  return (bytes) => type.decode(bytes);
}

export const ReplicationService = {
  replicate: {
    path: '/wardline.v1.Replication/Replicate',
    requestStream: true,
    responseStream: true,
    requestSerialize: serializer<AgentMessage>(pb.AgentMessage),
    requestDeserialize: deserializer<AgentMessage>(pb.AgentMessage),
    responseSerialize: serializer<RelayMessage>(pb.RelayMessage),
    responseDeserialize: deserializer<RelayMessage>(pb.RelayMessage),
  },
  export: {
    path: '/wardline.v1.Replication/Export',
    requestStream: false,
    responseStream: true,
    requestSerialize: serializer<ExportRequest>(pb.ExportRequest),
    requestDeserialize: deserializer<ExportRequest>(pb.ExportRequest),
    responseSerialize: serializer<ExportPart>(pb.ExportPart),
    responseDeserialize: deserializer<ExportPart>(pb.ExportPart),
  },
} satisfies ServiceDefinition;

export const FeedsService = {
  subscribe: {
    path: '/wardline.v1.Feeds/Subscribe',
    requestStream: false,
    responseStream: true,
    requestSerialize: serializer<SubscribeRequest>(pb.SubscribeRequest),
    requestDeserialize: deserializer<SubscribeRequest>(pb.SubscribeRequest),
    responseSerialize: serializer<FeedEvent>(pb.FeedEvent),
    responseDeserialize: deserializer<FeedEvent>(pb.FeedEvent),
  },
  commit: {
    path: '/wardline.v1.Feeds/Commit',
    requestStream: false,
    responseStream: false,
    requestSerialize: serializer<CommitRequest>(pb.CommitRequest),
    requestDeserialize: deserializer<CommitRequest>(pb.CommitRequest),
    responseSerialize: serializer<ConsumerPosition>(pb.ConsumerPosition),
    responseDeserialize: deserializer<ConsumerPosition>(pb.ConsumerPosition),
  },
  getConsumer: {
    path: '/wardline.v1.Feeds/GetConsumer',
    requestStream: false,
    responseStream: false,
    requestSerialize: serializer<ConsumerRequest>(pb.ConsumerRequest),
    requestDeserialize: deserializer<ConsumerRequest>(pb.ConsumerRequest),
    responseSerialize: serializer<ConsumerPosition>(pb.ConsumerPosition),
    responseDeserialize: deserializer<ConsumerPosition>(pb.ConsumerPosition),
  },
} satisfies ServiceDefinition;

export const InboundService = {
  write: {
    path: '/wardline.v1.Inbound/Write',
    requestStream: false,
    responseStream: false,
    requestSerialize: serializer<InboundWriteRequest>(pb.InboundWriteRequest),
    requestDeserialize: deserializer<InboundWriteRequest>(pb.InboundWriteRequest),
    responseSerialize: serializer<InboundStatusMessage>(pb.InboundStatus),
    responseDeserialize: deserializer<InboundStatusMessage>(pb.InboundStatus),
  },
  get: {
    path: '/wardline.v1.Inbound/Get',
    requestStream: false,
    responseStream: false,
    requestSerialize: serializer<InboundGetRequest>(pb.InboundGetRequest),
    requestDeserialize: deserializer<InboundGetRequest>(pb.InboundGetRequest),
    responseSerialize: serializer<InboundStatusMessage>(pb.InboundStatus),
    responseDeserialize: deserializer<InboundStatusMessage>(pb.InboundStatus),
  },
  receipts: {
    path: '/wardline.v1.Inbound/Receipts',
    requestStream: false,
    responseStream: true,
    requestSerialize: serializer<ReceiptsRequest>(pb.ReceiptsRequest),
    requestDeserialize: deserializer<ReceiptsRequest>(pb.ReceiptsRequest),
    responseSerialize: serializer<InboundStatusMessage>(pb.InboundStatus),
    responseDeserialize: deserializer<InboundStatusMessage>(pb.InboundStatus),
  },
} satisfies ServiceDefinition;
