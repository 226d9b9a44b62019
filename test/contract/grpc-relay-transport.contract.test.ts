// The RelayTransport contract against the real thing: GrpcRelayTransport over
// a real relay (in-process, 127.0.0.1:0, its database in a temp dir).
import { GrpcRelayTransport } from '../../agent/replication/grpc-relay-transport.js';
import { SECRETS, TestRelay } from '../integration/relay-harness.js';
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

describeRelayTransportContract('GrpcRelayTransport on a real relay', async () => {
  const relay = new TestRelay();
  await relay.start();
  const deadAddress = `127.0.0.1:${await freePort()}`;
  return {
    transport: () => transportTo(relay.grpcAddress),
    deadTransport: () => transportTo(deadAddress),
    hello: { hospitalId: 'h1', agentId: 'contract-agent', agentVersion: '0.0.0-contract', secret: SECRETS.h1 },
    relayId: 'test-relay',
    close: () => relay.close(),
  };
});
