// A raw Replicate client holding a hospital's own credentials, for the link
// attack tests: it speaks the wire protocol directly (no agent code), so it can
// send what no honest agent would.
import * as grpc from '@grpc/grpc-js';
import { PROTOCOL_VERSION, ReplicationService, pb, type AgentMessage, type RelayMessage } from '../../protocol/index.js';
import { AgentStream } from '../integration/relay-harness.js';

/** Opens a stream to `address`, says Hello as `hospitalId` with `secret`, and returns it with the relay's Welcome. */
export async function rawAgentHello(
  address: string,
  hello: { hospitalId: string; secret: string; feeds: string[] },
): Promise<{ stream: AgentStream; welcome: NonNullable<RelayMessage['welcome']>; close(): void }> {
  const Client = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');
  const client = new Client(address, grpc.credentials.createInsecure());
  const call = (client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate();
  const stream = new AgentStream(call);
  call.write(pb.AgentMessage.create({ hello: { protocolVersion: PROTOCOL_VERSION, agentId: 'raw-client', agentVersion: '0.0.0-raw', ...hello } }));
  const first = await stream.next(5_000);
  if (!first.welcome) throw new Error(`expected Welcome, got ${JSON.stringify(first)}`);
  return {
    stream,
    welcome: first.welcome,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
