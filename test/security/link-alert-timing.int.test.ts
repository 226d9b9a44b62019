// The critical "link lost" alert, with real processes: a relay, an agent dialling
// it through a FaultProxy, alerts.linkLostAfter 6 s. The agent's own start-up
// connect used to count as the start of the trouble, so a 2 s cut soon after
// start raised the alert within half a second (a cut after settleAfter did not).
// Now the start-up connect does not count: a short cut says nothing, an outage
// is still raised.
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/agent-status.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { WardlinePair } from '../support/wardline-pair.js';

const LINK_LOST_AFTER_MS = 6_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const linkAlerts = (s: AgentStatus) => (s.alerts?.recent ?? []).filter((a) => a.rule === 'link' && a.state === 'firing');

describe('link-lost alert timing', () => {
  let dir: ReturnType<typeof makeTempDir> | undefined;
  let pair: WardlinePair | undefined;
  let proxy: FaultProxy | undefined;

  afterEach(async () => {
    await pair?.stop();
    await proxy?.stop();
    dir?.remove();
  });

  it('a 2 s cut soon after start raises nothing; a longer outage is still raised', async () => {
    dir = makeTempDir('wardline-link-alert-');
    const proxyPort = await freePort();
    pair = await WardlinePair.create(dir.path, {
      hospital: 'alert-hospital',
      relayAddressForAgent: () => `127.0.0.1:${proxyPort}`,
      agentSections: { alerts: { linkLostAfter: `${LINK_LOST_AFTER_MS / 1000}s`, settleAfter: '30s' } },
    });
    await pair.startRelay();
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: pair.ports.relayGrpc }, listenPort: proxyPort });
    const startedAt = Date.now();
    await pair.startAgent();
    await until('link streaming', () => pair!.agentStatus(), (s) => s.links[0]!.state === 'streaming', { timeoutMs: 20_000 });

    // A short cut past linkLostAfter from the start, well within settleAfter.
    await sleep(Math.max(0, startedAt + LINK_LOST_AFTER_MS + 2_000 - Date.now()));
    proxy.refuse();
    await sleep(2_000);
    await proxy.heal();
    await until('link streaming again', () => pair!.agentStatus(), (s) => s.links[0]!.state === 'streaming', { timeoutMs: 10_000 });
    await sleep(2_000);
    const afterShortCut = await pair.agentStatus();
    expect(linkAlerts(afterShortCut), 'alerts after a 2 s cut').toEqual([]);

    // A real outage is still raised. It follows the short cut within settleAfter, so by the
    // flapping rule (DebouncedLevel, rule 2) its trouble began with that cut: raised at most
    // linkLostAfter into it.
    proxy.refuse();
    const cutAt = Date.now();
    const raised = await until('a link-lost alert', () => pair!.agentStatus(), (s) => linkAlerts(s).length > 0, { timeoutMs: LINK_LOST_AFTER_MS + 10_000 });
    const alertAfterMs = linkAlerts(raised)[0]!.atMs - cutAt;
    await proxy.heal();
    console.log(`link alert: none after a 2 s cut ${Math.round((cutAt - startedAt) / 1000)} s after start; raised ${alertAfterMs} ms into a longer cut (linkLostAfter ${LINK_LOST_AFTER_MS} ms)`);
    expect(alertAfterMs).toBeLessThanOrEqual(LINK_LOST_AFTER_MS + 3_000);
  }, 90_000);
});
