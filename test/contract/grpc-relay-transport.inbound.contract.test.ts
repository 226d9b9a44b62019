// The RelayTransport contract against GrpcRelayTransport on a relay with its
// real SQLite inbound store (InboundTestRelay: the parts startRelay builds, on
// 127.0.0.1:0): the downlink's tests run here on the wire.
import { GrpcRelayTransport } from '../../agent/replication/grpc-relay-transport.js';
import { InboundTestRelay, SECRETS } from '../integration/relay-harness.js';
import { freePort } from '../support/free-port.js';
import { describeRelayTransportContract } from './relay-transport.contract.js';

const transportTo = (address: string) =>
  new GrpcRelayTransport({
    address,
    connectTimeoutMs: 3_000,
    handshakeTimeoutMs: 3_000,
    keepaliveTimeMs: 10_000,
    keepaliveTimeoutMs: 5_000,
    maxSendBytes: 4 << 20,
    tls: undefined,
  });

describeRelayTransportContract('GrpcRelayTransport on a relay with its inbound store', async () => {
  const relay = await new InboundTestRelay({ inboundBacklogIntervalMs: 300 }).start();
  const deadAddress = `127.0.0.1:${await freePort()}`;
  let written = 0;
  return {
    transport: () => transportTo(`127.0.0.1:${relay.grpcPort}`),
    deadTransport: () => transportTo(deadAddress),
    hello: { hospitalId: 'h1', agentId: 'contract-agent', agentVersion: '0.0.0-contract', secret: SECRETS.h1 },
    relayId: 'test-relay',
    close: () => relay.close(),
    olderRelay: async () => {
      const older = await new InboundTestRelay({ protocolVersion: 1 }).start();
      return { transport: transportTo(`127.0.0.1:${older.grpcPort}`), close: () => older.close() };
    },
    inbound: {
      write: async (channel, key, body) => {
        const now = Date.now();
        const result = await relay.inbound.write({
          hospital: 'h1',
          channel,
          vendor: 'app',
          idempotencyKey: `contract-${++written}`,
          contentType: 'json',
          body: Buffer.from(JSON.stringify(body)),
          key,
          receivedAtMs: now,
          expiresAtMs: now + 3_600_000,
        });
        if (result.kind !== 'created') throw new Error(`inbound write: ${result.kind}`);
        return result.record.id;
      },
    },
  };
});
