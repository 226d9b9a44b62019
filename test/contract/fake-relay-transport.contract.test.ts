// The RelayTransport contract against the shared fake the unit tests use, so
// it keeps doing what the real transport and relay do.
import { FakeRelay } from '../support/fake-relay-transport.js';
import { describeRelayTransportContract } from './relay-transport.contract.js';

describeRelayTransportContract('the shared fake (test/support/fake-relay-transport.ts)', async () => {
  const relay = new FakeRelay({ relayId: 'fake-relay', secret: 'h1-secret' });
  const dead = new FakeRelay();
  dead.reachable = false;
  return {
    transport: () => relay.transport(),
    deadTransport: () => dead.transport(),
    hello: { hospitalId: 'h1', agentId: 'contract-agent', agentVersion: '0.0.0-contract', secret: 'h1-secret' },
    relayId: 'fake-relay',
    close: async () => {},
    olderRelay: async () => ({ transport: new FakeRelay({ relayId: 'old-relay', secret: 'h1-secret', protocolVersion: 1 }).transport(), close: async () => {} }),
    inbound: { write: async (channel, key, body) => relay.writeInbound(channel, { key, body: JSON.stringify(body) }).id },
  };
});
