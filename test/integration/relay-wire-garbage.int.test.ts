// Bytes on the relay's gRPC port that are not what they should be (DESIGN
// invariant 6): garbage that is not HTTP/2 at all, and a well-formed gRPC frame
// whose payload is not an AgentMessage. The relay ends only the offending
// connection or stream, says why, and goes on serving everyone else.
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, PROTOCOL_VERSION, ReplicationService, pb, type RelayMessage } from '../../protocol/index.js';
import { ERROR_CODE_TRAILER } from '../../cloud-relay/index.js';
import { SECRETS, TestRelay, connectAgent, makeBatch } from './relay-harness.js';

/** Not HTTP/2: no connection preface, just noise (and an HTTP/1 request line, as a port scanner would send). */
const GARBAGE = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: relay\r\n\r\n'), Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 97 + 13) & 0xff))]);
/** Tag 0x0f is field 1 with wire type 7, which does not exist: no protobuf decoder accepts this. */
const NOT_AN_AGENT_MESSAGE = Buffer.from([0x0f, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37]);

/** Writes bytes to the port over plain TCP; resolves with what came back and whether the relay closed the connection. */
function sendRaw(port: number, bytes: Buffer, waitMs: number): Promise<{ closedByRelay: boolean; received: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedByRelay: false, received: Buffer.concat(chunks) });
    }, waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedByRelay: true, received: Buffer.concat(chunks) });
    });
    socket.once('connect', () => socket.off('error', reject));
  });
}

/** A Replicate call whose requests are raw bytes, so a test can put anything in a gRPC frame. */
function rawReplicateCall(address: string): { call: grpc.ClientDuplexStream<Buffer, RelayMessage>; client: grpc.Client; status: Promise<grpc.StatusObject>; messages: RelayMessage[] } {
  const definition = {
    replicate: { ...ReplicationService.replicate, requestSerialize: (bytes: Buffer) => bytes },
  } satisfies grpc.ServiceDefinition;
  const Client = grpc.makeGenericClientConstructor(definition, 'RawReplication');
  const client = new Client(address, grpc.credentials.createInsecure());
  const call = (client as unknown as { replicate(): grpc.ClientDuplexStream<Buffer, RelayMessage> }).replicate();
  const messages: RelayMessage[] = [];
  call.on('data', (m: RelayMessage) => messages.push(m));
  call.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return { call, client, status, messages };
}

function helloBytes(): Buffer {
  const hello = pb.AgentMessage.create({
    hello: { protocolVersion: PROTOCOL_VERSION, hospitalId: 'h2', agentId: 'h2-raw', agentVersion: '0.0.0-test', secret: SECRETS.h2, feeds: ['results'] },
  });
  return Buffer.from(pb.AgentMessage.encode(hello).finish());
}

describe('relay: garbage on the gRPC port', () => {
  let relay: TestRelay;
  const clients: grpc.Client[] = [];

  beforeEach(async () => {
    relay = new TestRelay();
    await relay.start();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await relay.close();
  });

  it('closes a connection that does not speak HTTP/2, and an agent streaming meanwhile never notices', async () => {
    const agent = await connectAgent(relay, 'h1', ['adt']);
    expect((await agent.stream.exchange(makeBatch('adt', 1, 5))).ack).toMatchObject({ highWaterSeq: 5 });

    const [garbage, ack] = await Promise.all([sendRaw(relay.relay!.grpcPort, GARBAGE, 5_000), agent.stream.exchange(makeBatch('adt', 6, 9))]);
    expect(garbage.closedByRelay).toBe(true);
    expect(ack.ack).toMatchObject({ highWaterSeq: 9, duplicate: false });
    // Several more, then the same stream keeps going.
    const more = await Promise.all([1, 2, 3].map(() => sendRaw(relay.relay!.grpcPort, GARBAGE.subarray(20), 5_000)));
    expect(more.every((r) => r.closedByRelay)).toBe(true);
    expect((await agent.stream.exchange(makeBatch('adt', 10, 12))).ack).toMatchObject({ highWaterSeq: 12 });
    // And new agents are still welcome.
    const another = await connectAgent(relay, 'h2', ['results']);
    expect((await another.stream.exchange(makeBatch('results', 1, 2))).ack).toMatchObject({ highWaterSeq: 2 });
  });

  it('ends a stream whose message is not an AgentMessage with INVALID_ARGUMENT, one log line, and keeps serving', async () => {
    const agent = await connectAgent(relay, 'h1', ['adt']);

    const raw = rawReplicateCall(relay.grpcAddress);
    clients.push(raw.client);
    raw.call.write(helloBytes());
    await waitUntil(() => raw.messages.length > 0, 3_000);
    expect(raw.messages[0]!.body).toBe('welcome');
    raw.call.write(NOT_AN_AGENT_MESSAGE);
    const status = await raw.status;

    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.details).toMatch(new RegExp(`^${ErrorCode.PROTOCOL_VIOLATION}: message \\d+ on this stream is not a valid AgentMessage \\(.+\\)`));
    expect(status.metadata.get(ERROR_CODE_TRAILER)).toEqual([ErrorCode.PROTOCOL_VIOLATION]);
    const ended = relay.logs.filter((line) => line.msg === 'replication stream ended with an error');
    expect(ended).toEqual([expect.objectContaining({ level: 40, hospital: 'h2', code: ErrorCode.PROTOCOL_VIOLATION, reason: expect.stringContaining('not a valid AgentMessage') })]);

    // The well-behaved agent's stream was not disturbed, and the offender can come back.
    expect((await agent.stream.exchange(makeBatch('adt', 1, 3))).ack).toMatchObject({ highWaterSeq: 3 });
    const back = await connectAgent(relay, 'h2', ['results']);
    expect((await back.stream.exchange(makeBatch('results', 1, 1))).ack).toMatchObject({ highWaterSeq: 1 });
  });

  it('gives the same answer when the very first message is undecodable', async () => {
    const raw = rawReplicateCall(relay.grpcAddress);
    clients.push(raw.client);
    raw.call.write(NOT_AN_AGENT_MESSAGE);
    const status = await raw.status;
    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.details).toContain(`${ErrorCode.PROTOCOL_VIOLATION}: message 1 on this stream is not a valid AgentMessage`);
    expect(relay.logs.filter((line) => line.msg === 'replication stream ended with an error')).toHaveLength(1);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
