// The relay status's inbound parts, built by the pure functions from snapshots:
// per hospital and channel what waits, and an agent of protocol 1 named as the
// reason when the relay keeps inbound events (and only then).
import { describe, expect, it } from 'vitest';
import type { ConnectedAgent } from '../../cloud-relay/index.js';
import { emptyReceiptCounts } from '../../cloud-relay/ingest/index.js';
import { AGENT_PROTOCOL_1_PROBLEM, buildRelayStatus, renderRelayStatusPage } from '../../cloud-relay/status/index.js';

const NOW = Date.UTC(2026, 11, 3, 10, 0, 0);

function agent(protocolVersion: number, inbound: ConnectedAgent['inbound']): ConnectedAgent {
  return { hospital: 'h1', agentId: 'h1-agent', agentVersion: '0.2.0', peer: '10.0.0.5:50000', feeds: ['adt'], connectedAtMs: NOW - 60_000, lastBatchAtMs: undefined, batches: 0, events: 0, authenticatedBy: 'secret', protocolVersion, inbound };
}

const inbound = [
  {
    hospital: 'h1',
    channels: [{ channel: 'bookings', waiting: 7, oldestReceivedAtMs: NOW - 90_000, sentUnacked: 0, receipts: { ...emptyReceiptCounts(), accepted: 3, quarantined: 1 } }],
  },
];

describe('relay status: inbound', () => {
  it('names an agent of protocol 1 as why the hospital\'s inbound events wait', () => {
    const status = buildRelayStatus({ relayId: 'r', startedAtMs: NOW - 1000, nowMs: NOW, hospitals: [{ id: 'h1' }], agents: [agent(1, null)], feeds: [], inbound });
    expect(status.connectedAgents[0]).toMatchObject({ protocolVersion: 1, inboundChannels: null, problem: AGENT_PROTOCOL_1_PROBLEM });
    expect(status.hospitals[0]!.inbound).toEqual({
      problem: AGENT_PROTOCOL_1_PROBLEM,
      channels: [{ channel: 'bookings', waiting: 7, oldestWaitingAt: new Date(NOW - 90_000).toISOString(), oldestWaitingSeconds: 90, sentUnacked: 0, receipts: { accepted: 3, refused: 0, expired: 0, quarantined: 1 } }],
    });
    const page = renderRelayStatusPage(status, NOW);
    expect(page).toContain(`<p class="warn" data-figure="inbound-problem">${AGENT_PROTOCOL_1_PROBLEM}</p>`);
    expect(page).toMatch(/data-figure="protocol">1</);
    expect(page).toMatch(/data-figure="inbound-waiting">7</);
  });

  it('shows no problem for an agent of protocol 2, and nothing inbound on a relay that keeps no inbound events', () => {
    const current = buildRelayStatus({ relayId: 'r', startedAtMs: NOW, nowMs: NOW, hospitals: [{ id: 'h1' }], agents: [agent(2, [{ channel: 'bookings', sentUnacked: 7, ackedSeq: 3 }])], feeds: [], inbound });
    expect(current.connectedAgents[0]).toMatchObject({ protocolVersion: 2, inboundChannels: ['bookings'], problem: null });
    expect(current.hospitals[0]!.inbound!.problem).toBeNull();

    const withoutInbound = buildRelayStatus({ relayId: 'r', startedAtMs: NOW, nowMs: NOW, hospitals: [{ id: 'h1' }], agents: [agent(1, null)], feeds: [] });
    expect(withoutInbound.connectedAgents[0]!.problem).toBeNull();
    expect(withoutInbound.hospitals[0]!.inbound).toBeNull();
    expect(renderRelayStatusPage(withoutInbound, NOW)).not.toContain('Inbound');
  });
});
