// A PostgreSQL source streaming from a throwaway server of the test's own into a
// real agent, seen by the operator: the dashboard card turns green "Streaming"
// with the transactions journaled, the position and the schema version from
// /v1/status, the retained WAL against the server's max_slot_wal_keep_size, and
// /metrics exports lag, rows, transactions, retained bytes and the budget.
// (The card's every state from sample values: test/unit/dashboard-capture-view.test.ts.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { findChromium, launchChromium, openPage, screenshot } from '../support/dashboard-browser.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { WardlineProcess, waitForHttp } from '../support/wardline-process.js';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('dashboard capture streaming test SKIPPED: no chromium at /usr/bin/chromium (apt-get install -y chromium, or set WARDLINE_CHROMIUM)');

const TRANSACTIONS = 30;

describe.skipIf(!CHROMIUM)('a streaming PostgreSQL source on the dashboard and /metrics (throwaway server, real agent, real browser)', () => {
  const dir = makeTempDir('wardline-capture-stream-');
  let server: ThrowawayPostgres;
  let agent: WardlineProcess;
  let browser: Browser;
  let page: Page;
  let agentUrl: string;
  const his = async () => ((await (await fetch(`${agentUrl}/v1/status`)).json()) as AgentStatus).sources.find((s) => s.name === 'his')!;

  beforeAll(async () => {
    server = await ThrowawayPostgres.create({ settings: { max_slot_wal_keep_size: '1GB' } });
    await server.query('CREATE DATABASE his');
    await server.query('CREATE TABLE patients (id bigint PRIMARY KEY, name text NOT NULL, ward text)', [], 'his');
    await server.query("INSERT INTO patients SELECT g, 'patient ' || g, 'W1' FROM generate_series(1, 100) g", [], 'his');
    await server.query('CREATE PUBLICATION wardline_his FOR TABLE patients', [], 'his');
    const [httpPort, deadRelayPort] = [await freePort(), await freePort()];
    agentUrl = `http://127.0.0.1:${httpPort}`;
    writeFileSync(
      join(dir.path, 'agent.yaml'),
      `hospital: { id: capture-stream-h }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${httpPort}" }
sources:
  - kind: postgres
    name: his
    connection: { host: 127.0.0.1, port: ${server.port}, database: his, user: postgres }
    tables: [{ table: patients }]
    heartbeatInterval: 1000
relays: [{ name: cloud, address: "127.0.0.1:${deadRelayPort}", secret: "capture-stream-secret-01", allowPlaintext: true, connectTimeoutMs: 1000 }]
feeds: [{ name: clinical, relay: cloud, streams: [his.patients] }]
log: { level: warn }
`,
    );
    agent = new WardlineProcess(['agent', 'start', '--config', join(dir.path, 'agent.yaml')], join(dir.path, 'agent.log'));
    await waitForHttp(`${agentUrl}/healthz`, agent);
    browser = await launchChromium(CHROMIUM!);
    page = await openPage(browser, agentUrl);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill('SIGKILL');
    await server?.destroy();
    dir.remove();
  });

  it('shows it green and streaming, with the transactions, position, schema version and retained WAL of the budget', async () => {
    await expect.poll(async () => (await his()).capture?.state, { timeout: 30_000, interval: 250 }).toBe('streaming');
    for (let i = 0; i < TRANSACTIONS; i++) await server.query('UPDATE patients SET ward = $1 WHERE id = $2', [`W${i}`, (i % 100) + 1], 'his');
    await expect.poll(async () => (await his()).capture!.transactions, { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(TRANSACTIONS);
    await expect.poll(async () => (await his()).capture!.retained?.budgetBytes ?? null, { timeout: 30_000, interval: 500 }).toBe(1024 ** 3);

    const card = '[data-capture="his"]';
    await page.waitForSelector(`${card}[data-level="ok"] [data-figure="capture.his.state"][data-value="streaming"]`, { timeout: 20_000 });
    expect(await page.textContent('[data-figure="capture.his.state"]')).toBe('Streaming');
    // The page's figures are the status's, one sample later at most.
    const capture = (await his()).capture!;
    await expect.poll(async () => page.getAttribute('[data-figure="capture.his.position"]', 'data-value'), { timeout: 10_000 }).toBe((await his()).capture!.position);
    expect(capture.position).toMatch(/[0-9A-F]+\/[0-9A-F]+/);
    expect(await page.getAttribute('[data-figure="capture.his.schemaVersion"]', 'data-value')).toBe(String(capture.schemaVersion));
    expect(await page.textContent(`${card} [data-role="transactions"]`)).toMatch(/^[\d,]+ transactions journaled$/);
    expect(await page.textContent('[data-figure="capture.his.lagMs"]')).toMatch(/^[\d,.]+ (ms|s)$/);
    await expect.poll(async () => page.textContent(`${card} [data-role="retained"]`), { timeout: 10_000 }).toMatch(/^\d+\.\d % of the 1\.0 GiB budget · /);
    expect((await fetch(`${agentUrl}/readyz`)).status).toBe(200);
    await screenshot(page, 'capture-05-streaming');
  }, 90_000);

  it('exports lag, rows, transactions, retained WAL and the budget on /metrics', async () => {
    const text = await (await fetch(`${agentUrl}/metrics`)).text();
    const capture = (await his()).capture!;
    expect(text).toContain('wardline_agent_capture_state{source="his",kind="postgres",state="streaming"} 1');
    expect(text).toMatch(/^wardline_agent_capture_lag_seconds\{source="his"\} \d/m);
    expect(Number(/^wardline_agent_capture_transactions_total\{source="his"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(TRANSACTIONS);
    // The snapshot's 100 rows and the updates: rows journaled.
    expect(Number(/^wardline_agent_capture_rows_total\{source="his"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(100 + TRANSACTIONS);
    expect(text).toMatch(/^wardline_agent_capture_retained_bytes\{source="his"\} \d+$/m);
    expect(text).toContain(`wardline_agent_capture_retained_budget_bytes{source="his"} ${1024 ** 3}`);
    expect(text).toContain(`wardline_agent_capture_schema_version{source="his"} ${capture.schemaVersion}`);
  });
});
