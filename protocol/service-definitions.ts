// grpc-js service definitions for the services in wardline.proto, wired to the
// protobufjs static classes (grpc-js needs only paths and (de)serializers).
import type { ServiceDefinition } from '@grpc/grpc-js';
import { pb } from './messages.js';

export type AgentMessage = InstanceType<typeof pb.AgentMessage>;
export type RelayMessage = InstanceType<typeof pb.RelayMessage>;
export type SubscribeRequest = InstanceType<typeof pb.SubscribeRequest>;
export type FeedEvent = InstanceType<typeof pb.FeedEvent>;
export type ExportRequest = InstanceType<typeof pb.ExportRequest>;
export type ExportPart = InstanceType<typeof pb.ExportPart>;

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
} satisfies ServiceDefinition;
