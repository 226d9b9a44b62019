// The downlink end to end on the agent's own composition root: a relay with its
// real SQLite inbound store (the relay harness), the agent started from agent.yaml
// (startAgent: GrpcRelayTransport, intake, engine, the real MLLP sink, outbox,
// ledger), and an HIS on a real MLLP socket. Events written at the relay reach
// the HIS in order per patient, and every one's final receipt is stored at the
// relay; the agent's status shows what waited at the relay with when it was reported.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { MllpHisListener } from '../support/mllp-his-listener.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { InboundTestRelay, SECRETS } from './relay-harness.js';

describe('inbound end to end', () => {
  const dir = makeTempDir('wardline-inbound-e2e-');
  const his = new MllpHisListener();
  let relay: InboundTestRelay;
  let agent: RunningAgent;

  beforeAll(async () => {
    relay = await new InboundTestRelay({ inboundBacklogIntervalMs: 300 }).start();
    const hisPort = await his.listen();
    his.answer = () => ({ code: 'AA', delayMs: 5 });
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: h1 }
dataDir: ${join(dir.path, 'data')}
http: { listen: "127.0.0.1:0" }
sources: []
relays: [{ name: cloud, address: "127.0.0.1:${relay.grpcPort}", secret: "${SECRETS.h1}", allowPlaintext: true }]
replication: { backoff: { initialMs: 100, maxMs: 500 } }
inbound:
  - channel: bookings
    relay: cloud
    keyPath: $.patient.id
    concurrency: 4
    sink:
      kind: mllp
      address: "127.0.0.1:${hisPort}"
      message: SRM^S01
      mapping: { PID-3: $.patient.id }
log: { level: silent }
`,
    );
    agent = await startAgent(file, { logger: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await agent?.stop();
    await relay?.close();
    await his.stop();
    dir.remove();
  });

  it('delivers what vendors wrote at the relay into the HIS, per patient in order, and stores every receipt at the relay', async () => {
    await until('the link streaming', () => agent.status().links[0]?.state, (s) => s === 'streaming');
    const written = await relay.write('h1', 'bookings', 40, { key: (i) => `P${i % 5}` });
    await until(
      'every final receipt at the relay',
      async () => (await Promise.all(written.map((w) => relay.inbound.get('h1', w.id)))).filter((r) => r?.receipt?.outcome === 'accepted').length,
      (n) => n === written.length,
      { timeoutMs: 30_000 },
    );
    for (let p = 0; p < 5; p++) {
      expect(his.idsOf(`P${p}`)).toEqual(written.filter((_, i) => i % 5 === p).map((w) => w.id));
    }
    expect(agent.status().downlink!.channels[0]).toMatchObject({ channel: 'bookings', received: 40, accepted: 40, problem: null });
    const atRelay = await until('the relay reporting nothing waiting', () => agent.status().downlink!.channels[0]!.atRelay, (a) => a !== null && a.waiting === 0);
    expect(atRelay!.reportedAtMs).toBeGreaterThan(Date.now() - 60_000);
    // Every receipt was recorded in the egress ledger before it left.
    expect(agent.ledger.status().records).toBeGreaterThanOrEqual(40);
  });
});
