// Operating the downlink on a running agent (startAgent from agent.yaml): a channel
// with a real MLLP sink to an HIS on 127.0.0.1; events handed to the agent's intake
// as its relay link would. /v1/status and /v1/inbound show the channel and the
// quarantined event with one problem sentence, /metrics the inbound series, and the
// CLI pauses, resumes and refuses through the HTTP routes, each recorded in the
// egress ledger with the operator.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundEventIn } from '../../agent/downlink/index.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { agentInboundAction, agentInboundList } from '../../cli/agent-inbound.js';
import { freePort } from '../support/free-port.js';
import { MllpHisListener } from '../support/mllp-his-listener.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const quiet = pino({ level: 'silent' });

function event(id: string, key: string, fields: object, channelSeq: number): InboundEventIn {
  const now = Date.now();
  return {
    id,
    channel: 'bookings',
    channelSeq,
    key,
    contentType: 'json',
    body: Buffer.from(JSON.stringify({ ...fields, patient: { id: key } })),
    vendor: 'patient-app',
    idempotencyKey: `k${channelSeq}`,
    receivedAtMs: now,
    expiresAtMs: now + 3_600_000,
  };
}

describe('operating the downlink', () => {
  const dir = makeTempDir('wardline-inbound-ops-');
  const his = new MllpHisListener();
  let agent: RunningAgent;
  let url: string;
  const good = event('ibaaaaaaaaaaaaaaaaab', 'P-1', { slot: 'S1' }, 1);
  const poison = event('ibaaaaaaaaaaaaaaaaac', 'P-2', { note: 'no slot' }, 2);

  beforeAll(async () => {
    const hisPort = await his.listen();
    // A relay that is not there: the channel is served all the same; the relay has reported nothing.
    const relayPort = await freePort();
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: inbound-hospital }
dataDir: ${join(dir.path, 'data')}
http: { listen: "127.0.0.1:0" }
sources: []
relays: [{ name: cloud, address: "127.0.0.1:${relayPort}", secret: "s3cret-s3cret-s3cret", allowPlaintext: true }]
inbound:
  - channel: bookings
    relay: cloud
    ttl: 2h
    keyPath: $.patient.id
    retry: { initialMs: 50, maxMs: 200 }
    sink:
      kind: mllp
      address: "127.0.0.1:${hisPort}"
      message: SRM^S01
      mapping: { ARQ-1: $.slot, PID-3: $.patient.id }
log: { level: silent }
`,
    );
    agent = await startAgent(file, { logger: quiet });
    url = `http://127.0.0.1:${agent.httpPort}`;
  });

  afterAll(async () => {
    await agent?.stop();
    await his.stop();
    dir.remove();
  });

  it('shows the channel, its quarantined event and its problem in /v1/status, /v1/inbound and /metrics', async () => {
    await agent.downlink.intake.accept('cloud', [good, poison]);
    await until('the good event accepted and the poison quarantined', () => agent.status().downlink!.channels[0]!, (c) => c.accepted === 1 && c.quarantined === 1);
    const status = (await (await fetch(`${url}/v1/status`)).json()) as { downlink: { channels: Record<string, unknown>[]; quarantined: Record<string, unknown>[] } };
    expect(status.downlink.channels[0]).toMatchObject({
      channel: 'bookings',
      relay: 'cloud',
      sinkKind: 'mllp',
      paused: false,
      sinkState: { state: 'up' },
      received: 2,
      accepted: 1,
      quarantined: 1,
      atRelay: null,
      problem: '1 event quarantined: each holds its key until replayed or refused',
    });
    expect(status.downlink.quarantined).toMatchObject([{ id: poison.id, channel: 'bookings', attempts: 1, reason: expect.stringContaining('$.slot') }]);
    const list = await fetch(`${url}/v1/inbound`);
    expect(list.status).toBe(200);
    expect(((await list.json()) as { quarantined: unknown[] }).quarantined).toHaveLength(1);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('wardline_agent_inbound_events_total{channel="bookings",outcome="accepted"} 1');
    expect(metrics).toContain('wardline_agent_inbound_events_total{channel="bookings",outcome="received"} 2');
    expect(metrics).toContain('wardline_agent_inbound_pending{channel="bookings",where="quarantined"} 1');
    expect(metrics).toMatch(/wardline_agent_inbound_oldest_waiting_seconds\{channel="bookings"\} \d/);
    // One per attempt that reached the sink (the unmappable one may have taken under a millisecond).
    expect(metrics).toMatch(/wardline_agent_inbound_delivery_seconds_count\{channel="bookings"\} [12]\n/);
    // Never a key.
    expect(JSON.stringify(status)).not.toContain('P-2');
  });

  it('pauses and resumes through the CLI, recorded with the operator', async () => {
    const out: string[] = [];
    expect(await agentInboundAction('pause', { url, subject: 'bookings', reason: 'HIS upgrade', operator: 'alice' }, (t) => out.push(t))).toBe(0);
    expect(agent.status().downlink!.channels[0]).toMatchObject({ paused: true, problem: expect.stringMatching(/^paused by alice at .*: HIS upgrade; events are journaled and wait$/) });
    await agent.downlink.intake.accept('cloud', [event('ibaaaaaaaaaaaaaaaaad', 'P-3', { slot: 'S3' }, 3)]);
    await new Promise((r) => setTimeout(r, 200));
    expect(his.idsOf('P-3')).toEqual([]);
    expect(await agentInboundAction('resume', { url, subject: 'bookings', operator: 'alice' }, (t) => out.push(t))).toBe(0);
    await until('the paused event delivered after resume', () => his.idsOf('P-3'), (ids) => ids.length === 1);
    const actions = agent.ledger.status().recentActions.map((r) => [r.type, (r.details as { operator?: string }).operator]);
    expect(actions.slice(0, 2)).toEqual([
      ['inbound-resume', 'alice'],
      ['inbound-pause', 'alice'],
    ]);
  });

  it('refuses a quarantined event with a final receipt; a replay of it afterwards is refused with 409', async () => {
    const out: string[] = [];
    expect(await agentInboundAction('refuse', { url, subject: poison.id, reason: 'booking cancelled by phone', operator: 'bob' }, (t) => out.push(t))).toBe(0);
    expect(agent.downlink.store.get(poison.id)).toMatchObject({ state: 'refused', lastReason: 'refused by the hospital: booking cancelled by phone' });
    const replay = await fetch(`${url}/v1/inbound/events/${poison.id}/replay`, { method: 'POST' });
    expect(replay.status).not.toBe(200);
    expect(await agentInboundAction('replay', { url, subject: poison.id }, () => undefined)).toBe(2);
    expect(await agentInboundAction('pause', { url, subject: 'nope' }, () => undefined)).toBe(2);
    // An agent that cannot be reached is one line and exit 2, for an action (whose CSRF fetch fails first) as for the list.
    const unreachable = 'http://127.0.0.1:1';
    expect(await agentInboundAction('replay', { url: unreachable, subject: poison.id }, () => undefined)).toBe(2);
    expect(await agentInboundList({ url: unreachable }, () => undefined)).toBe(2);
    const listed: string[] = [];
    expect(await agentInboundList({ url }, (t) => listed.push(t))).toBe(0);
    expect(listed.join('')).toMatch(/^bookings {2}relay cloud {2}mllp sink up\n {2}received 3, accepted 2, refused 1/);
    expect(agent.ledger.status().recentActions[0]).toMatchObject({ type: 'inbound-refuse', details: { id: poison.id, operator: 'bob', reason: 'booking cancelled by phone' } });
  });
});
