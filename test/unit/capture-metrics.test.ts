// /metrics for database sources, from sample CaptureStatus values: the state
// one-hot, lag, rows, transactions, retained WAL/binlog and its budget, snapshot
// percent; a figure the source does not know is absent, never 0; other kinds of
// source export none of these.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerCaptureMetrics } from '../../agent/operations/metrics/index.js';
import { CAPTURE_STATES, captureSourceStatus, initialCaptureStatus, type CaptureStatus, type SourceStatus } from '../../agent/sources/index.js';

const GiB = 1024 ** 3;

function pg(capture: Partial<CaptureStatus>, acknowledged = 0): SourceStatus {
  return captureSourceStatus('his', 'postgres', { received: acknowledged, acknowledged, rejected: 0, lastMessageAtMs: null }, { ...initialCaptureStatus(), ...capture });
}

const mllp: SourceStatus = { name: 'lis', kind: 'mllp', state: 'listening', received: 5, acknowledged: 5, rejected: 0, duplicates: 0, lastRejection: null, lastMessageAtMs: null };

async function scrape(sources: SourceStatus[]): Promise<string> {
  const registry = new Registry();
  registerCaptureMetrics(registry, () => sources);
  return registry.metrics();
}

describe('capture metrics', () => {
  it('export a streaming source: state one-hot, lag, rates, counters, retained and budget', async () => {
    const text = await scrape([
      pg({ state: 'streaming', lagMs: 37, rowsPerSecond: 1999.5, transactions: 1234, schemaVersion: 3, retained: { bytes: 2 * GiB, budgetBytes: 4 * GiB, status: 'reserved', secondsToBudget: 5400 } }, 9876),
      mllp,
    ]);
    for (const state of CAPTURE_STATES) expect(text).toContain(`wardline_agent_capture_state{source="his",kind="postgres",state="${state}"} ${state === 'streaming' ? 1 : 0}`);
    expect(text).toContain('wardline_agent_capture_lag_seconds{source="his"} 0.037');
    expect(text).toContain('wardline_agent_capture_rows_per_second{source="his"} 1999.5');
    expect(text).toContain('wardline_agent_capture_rows_total{source="his"} 9876');
    expect(text).toContain('wardline_agent_capture_transactions_total{source="his"} 1234');
    expect(text).toContain(`wardline_agent_capture_retained_bytes{source="his"} ${2 * GiB}`);
    expect(text).toContain(`wardline_agent_capture_retained_budget_bytes{source="his"} ${4 * GiB}`);
    expect(text).toContain('wardline_agent_capture_retained_budget_eta_seconds{source="his"} 5400');
    expect(text).toContain('wardline_agent_capture_schema_version{source="his"} 3');
    expect(text).not.toMatch(/^wardline_agent_capture_snapshot_percent\{/m);
    expect(text).not.toContain('source="lis"');
    expect(text).toContain('# TYPE wardline_agent_capture_rows_total counter');
  });

  it('export snapshot progress while snapshotting, and leave out what is not known yet', async () => {
    const text = await scrape([pg({ state: 'snapshotting', snapshot: { table: 'patients', rowsCopied: 420_000, rowsEstimated: 1_000_000, percent: 42, tablesDone: 1, tablesTotal: 3 } })]);
    expect(text).toContain('wardline_agent_capture_state{source="his",kind="postgres",state="snapshotting"} 1');
    expect(text).toContain('wardline_agent_capture_snapshot_percent{source="his"} 42');
    expect(text).not.toMatch(/^wardline_agent_capture_lag_seconds\{/m);
    expect(text).not.toMatch(/^wardline_agent_capture_retained_bytes\{/m);
    expect(text).not.toMatch(/^wardline_agent_capture_retained_budget_bytes\{/m);
  });

  it('say +Inf to the budget when the retained log is not growing, and export no budget when there is none', async () => {
    const filling = await scrape([pg({ state: 'streaming', retained: { bytes: 1024, budgetBytes: GiB, status: 'reserved', secondsToBudget: null } })]);
    expect(filling).toContain('wardline_agent_capture_retained_budget_eta_seconds{source="his"} +Inf');
    const unlimited = await scrape([pg({ state: 'retrying', retained: { bytes: 1024, budgetBytes: null, status: 'reserved', secondsToBudget: null } })]);
    expect(unlimited).toContain('wardline_agent_capture_retained_bytes{source="his"} 1024');
    expect(unlimited).not.toMatch(/^wardline_agent_capture_retained_budget_(bytes|eta_seconds)\{/m);
    expect(unlimited).toContain('wardline_agent_capture_state{source="his",kind="postgres",state="retrying"} 1');
  });

  it('drop the series of a source that is gone', async () => {
    const sources = [pg({ state: 'streaming', lagMs: 5 })];
    const registry = new Registry();
    registerCaptureMetrics(registry, () => sources);
    expect(await registry.metrics()).toContain('source="his"');
    sources.length = 0;
    expect(await registry.metrics()).not.toContain('source="his"');
  });
});
