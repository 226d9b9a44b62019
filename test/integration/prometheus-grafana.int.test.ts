// The Prometheus rules and the Grafana dashboard shipped in deploy/ load in their
// validators, and name only metrics a running agent and relay export:
//  1. `promtool check rules deploy/prometheus/wardline-rules.yml` passes
//     (promtool comes with Debian's `prometheus`, which .ci/run installs).
//  2. The dashboard JSON has the shape Grafana imports: a schemaVersion, a
//     datasource variable, and every panel and target reading through it.
//  3. Every PromQL expression of the dashboard parses: each is written, with the
//     Grafana variables filled in, as a recording rule and `promtool check rules`d.
//  4. A real agent and relay, after HL7 has gone through them, export every
//     metric name the rules and the dashboard use (`up` is Prometheus' own),
//     the stock process and Node names, and the build info.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedHospital } from '../../simulator/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { readWholeFeed } from '../support/read-feed.js';
import { PAIR_FEED, PAIR_OPERATOR_HEADERS, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';

const RULES_FILE = 'deploy/prometheus/wardline-rules.yml';
const DASHBOARD_FILE = 'deploy/grafana/wardline-agent.json';
/** Series Prometheus makes itself for each scrape; no program exports them. */
const SYNTHESISED = new Set(['up']);

function promtool(args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  if (run.error) throw new Error(`promtool cannot be run (${run.error.message}): install Debian's prometheus package (apt-get install prometheus; .ci/run does)`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
interface Dashboard {
  schemaVersion?: number;
  uid?: string;
  title?: string;
  templating?: { list?: { name: string; type: string; query?: unknown; definition?: string }[] };
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;

/** The dashboard's expressions with its variables filled in as Grafana would. */
function dashboardExpressions(): { where: string; expr: string }[] {
  return (dashboard.panels ?? []).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      where: `panel "${panel.title}" target ${target.refId}`,
      expr: (target.expr ?? '').replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*'),
    })),
  );
}

/** Metric names an expression reads: identifiers of the families Wardline's scrape carries, outside strings. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...withoutStrings.matchAll(/\b(?:wardline_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+|up)\b(?!\s*\()/g)].map((m) => m[0]);
}

/** The rules' expressions, by group (`wardline-agent`, `wardline-relay`). */
function ruleExpressions(group?: string): { where: string; expr: string }[] {
  // The rules file is YAML; each group opens with `- name:`, each expression is one line after `expr:`.
  const groups = readFileSync(RULES_FILE, 'utf8').split(/^  - name: /m).slice(1);
  return groups
    .filter((text) => group === undefined || text.startsWith(`${group}\n`))
    .flatMap((text) => [...text.matchAll(/^\s*- alert: (\S+)\n\s*expr: (.+)$/gm)].map((m) => ({ where: `rule ${m[1]}`, expr: m[2]! })));
}

describe('the shipped Prometheus rules and Grafana dashboard', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());

  it('pass promtool check rules', () => {
    const run = promtool(['check', 'rules', RULES_FILE]);
    expect(run.output, run.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(run.status, run.output).toBe(0);
    // The regex below finds every rule: none is left out of the metric-name check.
    expect(ruleExpressions().length).toBe(Number(/SUCCESS: (\d+) rules/.exec(run.output)![1]));
  });

  it('the dashboard has the shape Grafana imports, every panel reading through the datasource variable', () => {
    expect(typeof dashboard.schemaVersion).toBe('number');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    const variables = dashboard.templating?.list ?? [];
    expect(variables.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const panels = dashboard.panels ?? [];
    expect(panels.length).toBeGreaterThan(5);
    const problems: string[] = [];
    const ids = new Set<number>();
    for (const panel of panels) {
      const name = `panel ${panel.id} "${panel.title}"`;
      if (typeof panel.id !== 'number' || ids.has(panel.id)) problems.push(`${name}: id missing or repeated`);
      ids.add(panel.id!);
      if (!panel.type || !panel.gridPos) problems.push(`${name}: no type or gridPos`);
      if (panel.datasource?.uid !== '${datasource}') problems.push(`${name}: datasource ${JSON.stringify(panel.datasource)}, not the \${datasource} variable`);
      if (!panel.targets?.length) problems.push(`${name}: no targets`);
      for (const target of panel.targets ?? []) {
        if (!target.expr?.trim()) problems.push(`${name} target ${target.refId}: no expr`);
        if (target.datasource?.uid !== '${datasource}') problems.push(`${name} target ${target.refId}: datasource not the variable`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every dashboard expression parses (promtool, as recording rules)', () => {
    const expressions = dashboardExpressions();
    const file = join(dir.path, 'dashboard-expressions.yml');
    const rules = expressions.map((e, i) => `      - record: wardline:dashboard_check:${i}\n        expr: ${JSON.stringify(e.expr)}\n`).join('');
    writeFileSync(file, `groups:\n  - name: dashboard-expressions\n    rules:\n${rules}`);
    const run = promtool(['check', 'rules', file]);
    expect(run.output, run.output).toContain(`SUCCESS: ${expressions.length} rules found`);
    expect(run.status).toBe(0);
  });
});

describe('metrics a running agent and relay export (real processes)', () => {
  const dir = makeTempDir();
  let pair: WardlinePair | undefined;
  let hospital: SimulatedHospital | undefined;
  let agentNames: Set<string>;
  let relayNames: Set<string>;
  let agentText: string;
  let relayText: string;

  function sampleNames(text: string): Set<string> {
    const names = new Set<string>();
    for (const line of text.split('\n')) {
      const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)?.[1];
      if (name) names.add(name);
      // This pair has no database source and no imaging feed: their metrics are
      // declared (# TYPE) with no series. Capture series are checked with a real
      // database source in dashboard-capture.int.test.ts, imaging series from
      // sample statuses in test/unit/imaging-metrics.test.ts.
      const declared = /^# TYPE (wardline_agent_(?:capture|imaging)_[a-z_]+) /.exec(line)?.[1];
      if (declared) names.add(declared);
    }
    return names;
  }

  beforeAll(async () => {
    // A quiet period and an alert sink, so the silent-source and delivery series exist.
    pair = await WardlinePair.create(dir.path, {
      hospital: 'metrics-h',
      logLevel: 'warn',
      agentSections: { alerts: { quietPeriods: { lis: '1h' }, webhook: { url: 'http://127.0.0.1:9/hooks/wardline' } } },
    });
    await pair.startRelay();
    await pair.startAgent();
    hospital = new SimulatedHospital({ mllp: { host: '127.0.0.1', port: pair.ports.mllp }, ratePerSecond: 20, connections: 1, seed: 'metrics' });
    hospital.start();
    await until('events journaled', () => pair!.agentStatus(), (s) => s.journal.headSeq >= 20, { timeoutMs: 30_000 });
    await hospital.stop();
    await pair.waitForDrain();
    // A vendor read gives the vendor's cursor and lag series.
    await readWholeFeed(pair.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY);
    agentText = await (await fetch(`${pair.agentHttp}/metrics`)).text();
    relayText = await (await fetch(`${pair.relayHttp}/metrics`, { headers: PAIR_OPERATOR_HEADERS })).text();
    agentNames = sampleNames(agentText);
    relayNames = sampleNames(relayText);
  }, 120_000);

  afterAll(async () => {
    await hospital?.stop();
    await pair?.stop();
    dir.remove();
  });

  it('include every metric the rules and the dashboard name (agent rules and the dashboard: the agent; relay rules: the relay)', () => {
    const missing: string[] = [];
    const check = (expressions: { where: string; expr: string }[], exported: Set<string>, program: string): void => {
      for (const { where, expr } of expressions) {
        const names = metricNames(expr);
        if (names.length === 0) missing.push(`${where}: names no metric (${expr})`);
        for (const name of names) if (!SYNTHESISED.has(name) && !exported.has(name)) missing.push(`${where}: ${name} not exported by the ${program}`);
      }
    };
    check(ruleExpressions('wardline-agent'), agentNames, 'agent');
    check(ruleExpressions('wardline-relay'), relayNames, 'relay');
    check(dashboardExpressions(), agentNames, 'agent');
    check((dashboard.templating?.list ?? []).filter((v) => v.definition).map((v) => ({ where: `variable ${v.name}`, expr: v.definition! })), agentNames, 'agent');
    expect(ruleExpressions('wardline-agent').length + ruleExpressions('wardline-relay').length).toBe(ruleExpressions().length);
    expect(missing).toEqual([]);
  });

  it('give the process and Node metrics their stock names, and the build info', () => {
    for (const names of [agentNames, relayNames]) {
      expect(names).toContain('process_cpu_seconds_total');
      expect(names).toContain('process_resident_memory_bytes');
      expect(names).toContain('nodejs_eventloop_lag_p99_seconds');
      expect([...names].filter((n) => /^wardline_(agent|relay)_(process|nodejs)_/.test(n))).toEqual([]);
    }
    expect(agentText).toMatch(/^wardline_agent_build_info\{version="\d+\.\d+\.\d+[^"]*",protocol_version="\d+",nodejs="v\d+[^"]*"\} 1$/m);
    expect(relayText).toMatch(/^wardline_relay_build_info\{version="\d+\.\d+\.\d+[^"]*",protocol_version="\d+",nodejs="v\d+[^"]*"\} 1$/m);
  });

  it('observe HL7 ACK, journal commit and replication round-trip latency', () => {
    const count = (metric: string): number => {
      const values = [...agentText.matchAll(new RegExp(`^${metric}_count(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => Number(m[1]));
      return values.reduce((a, b) => a + b, 0);
    };
    // Every message the simulator sent was answered AA and committed, and the feed drained.
    expect(agentText).toMatch(/^wardline_agent_hl7_ack_latency_seconds_count\{source="lis",code="AA"\} [1-9]\d*$/m);
    expect(count('wardline_agent_hl7_ack_latency_seconds')).toBeGreaterThanOrEqual(20);
    expect(count('wardline_agent_journal_commit_duration_seconds')).toBeGreaterThan(0);
    expect(agentText).toMatch(/^wardline_agent_replication_round_trip_seconds_count\{feed="[^"]+",relay="cloud"\} [1-9]\d*$/m);
    // The ms-scale buckets are there (le is in seconds).
    expect(agentText).toMatch(/^wardline_agent_journal_commit_duration_seconds_bucket\{le="0\.001"\} \d+$/m);
  });
});
