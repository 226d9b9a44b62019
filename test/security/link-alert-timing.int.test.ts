// The critical "link lost" alert, with real processes: a relay, an agent dialling
// it through a FaultProxy, alerts.linkLostAfter 6 s. The agent's own start-up
// connect used to count as the start of the trouble, so a 2 s cut soon after
// start raised the alert within half a second (a cut after settleAfter did not).
// Now the start-up connect does not count: a short cut says nothing, an outage
// is still raised.
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { startProxiedPair, type ProxiedPair } from '../support/link-proxied-pair.js';
import { until } from '../support/until.js';

const LINK_LOST_AFTER_MS = 6_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const linkAlerts = (s: AgentStatus) => (s.alerts?.recent ?? []).filter((a) => a.rule === 'link' && a.state === 'firing');

describe('link-lost alert timing', () => {
  let line: ProxiedPair | undefined;

  afterEach(async () => {
    await line?.stop();
  });

  it('a 2 s cut soon after start raises nothing; a longer outage is still raised', async () => {
    const startedAt = Date.now();
    line = await startProxiedPair('link-alert', { agentSections: { alerts: { linkLostAfter: `${LINK_LOST_AFTER_MS / 1000}s`, settleAfter: '30s' } } });
    const { pair, proxy } = line;

    // A short cut past linkLostAfter from the start, well within settleAfter.
    await sleep(Math.max(0, startedAt + LINK_LOST_AFTER_MS + 4_000 - Date.now()));
    proxy.refuse();
    await sleep(2_000);
    await proxy.heal();
    await until('link streaming again', () => pair.agentStatus(), (s) => s.links[0]!.state === 'streaming', { timeoutMs: 10_000 });
    await sleep(2_000);
    const afterShortCut = await pair.agentStatus();
    expect(linkAlerts(afterShortCut), 'alerts after a 2 s cut').toEqual([]);

    // A real outage is still raised. It follows the short cut within settleAfter, so by the
    // flapping rule (DebouncedLevel, rule 2) its trouble began with that cut: raised at most
    // linkLostAfter into it.
    proxy.refuse();
    const cutAt = Date.now();
    const raised = await until('a link-lost alert', () => pair.agentStatus(), (s) => linkAlerts(s).length > 0, { timeoutMs: LINK_LOST_AFTER_MS + 10_000 });
    const alertAfterMs = linkAlerts(raised)[0]!.atMs - cutAt;
    await proxy.heal();
    console.log(`link alert: none after a 2 s cut ${Math.round((cutAt - startedAt) / 1000)} s after start; raised ${alertAfterMs} ms into a longer cut (linkLostAfter ${LINK_LOST_AFTER_MS} ms)`);
    expect(alertAfterMs).toBeLessThanOrEqual(LINK_LOST_AFTER_MS + 3_000);
  }, 90_000);
});
