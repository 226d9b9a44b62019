// Prometheus metrics for database sources (postgres, mysql, sql-poll), from each
// one's SourceStatus.capture at scrape time: the state one-hot (as the link's),
// commit-to-journal lag, rows and transactions journaled, the WAL or binlog the
// server retains for the source and its budget, and snapshot progress. A figure
// the source does not know yet is left out rather than exported as 0, which
// would read as "no lag" or "nothing retained".
import { Counter, Gauge, type Registry } from 'prom-client';
import { CAPTURE_STATES, type SourceStatus } from '../../sources/index.js';

export function registerCaptureMetrics(registry: Registry, sources: () => readonly SourceStatus[]): void {
  // Registered first, so its collect hook fills every metric below from one status read.
  new Gauge({ name: 'wardline_agent_capture_state', help: '1 for the state the database source is in (starting, snapshotting, streaming, lagging, paused, retrying, stopped), 0 for the others', labelNames: ['source', 'kind', 'state'], registers: [registry], collect() {
    refresh(this);
  } });
  const lag = new Gauge({ name: 'wardline_agent_capture_lag_seconds', help: "Commit in the database to commit in the journal, the source's last transaction", labelNames: ['source'], registers: [registry] });
  const rowsRate = new Gauge({ name: 'wardline_agent_capture_rows_per_second', help: 'Rows journaled per second over the last minute', labelNames: ['source'], registers: [registry] });
  const rows = new Counter({ name: 'wardline_agent_capture_rows_total', help: 'Rows journaled by the database source since the agent started (snapshot and stream)', labelNames: ['source'], registers: [registry] });
  const transactions = new Counter({ name: 'wardline_agent_capture_transactions_total', help: 'Source transactions journaled since the agent started (one append each)', labelNames: ['source'], registers: [registry] });
  const retained = new Gauge({ name: 'wardline_agent_capture_retained_bytes', help: 'WAL (the slot) or binlog the server retains for the source', labelNames: ['source'], registers: [registry] });
  const budget = new Gauge({ name: 'wardline_agent_capture_retained_budget_bytes', help: 'The most the server retains for the source (max_slot_wal_keep_size, binlog retention); absent when unlimited', labelNames: ['source'], registers: [registry] });
  const toBudget = new Gauge({ name: 'wardline_agent_capture_retained_budget_eta_seconds', help: 'Seconds until the retained WAL/binlog reaches the budget at the current write rate (+Inf when not filling)', labelNames: ['source'], registers: [registry] });
  const snapshotPercent = new Gauge({ name: 'wardline_agent_capture_snapshot_percent', help: 'Initial snapshot progress, 0-100 (present while snapshotting)', labelNames: ['source'], registers: [registry] });
  const schemaVersion = new Gauge({ name: 'wardline_agent_capture_schema_version', help: 'The schema version last recorded with the events (bumped by ADD/DROP COLUMN)', labelNames: ['source'], registers: [registry] });

  function refresh(state: Gauge): void {
    for (const metric of [state, lag, rowsRate, retained, budget, toBudget, snapshotPercent, schemaVersion]) metric.reset();
    rows.reset();
    transactions.reset();
    for (const source of sources()) {
      const capture = source.capture;
      if (!capture) continue;
      const labels = { source: source.name };
      for (const s of CAPTURE_STATES) state.set({ source: source.name, kind: source.kind, state: s }, capture.state === s ? 1 : 0);
      if (capture.lagMs !== null) lag.set(labels, capture.lagMs / 1000);
      rowsRate.set(labels, capture.rowsPerSecond);
      rows.inc(labels, source.acknowledged);
      transactions.inc(labels, capture.transactions);
      const r = capture.retained;
      if (r?.bytes !== null && r?.bytes !== undefined) retained.set(labels, r.bytes);
      if (r?.budgetBytes !== null && r?.budgetBytes !== undefined) {
        budget.set(labels, r.budgetBytes);
        toBudget.set(labels, r.secondsToBudget ?? Infinity);
      }
      if (capture.state === 'snapshotting' && capture.snapshot?.percent !== null && capture.snapshot?.percent !== undefined) snapshotPercent.set(labels, capture.snapshot.percent);
      if (capture.schemaVersion !== null) schemaVersion.set(labels, capture.schemaVersion);
    }
  }
}
