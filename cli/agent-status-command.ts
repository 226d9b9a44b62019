// `wardline agent status`: the agent's picture in the terminal, or JSON for scripts.
// Exits 1 when a link is not streaming or a feed's lag is above its threshold,
// 2 when the agent cannot be reached, so it can drive a monitoring check.
import { formatByteRate, type AgentStatus, type AlertsStatus, type DiskStatus, type FeedStatus, type UplinkStatus } from '../agent/index.js';
import { adminHeaders, LOGIN_REQUIRED_HINT } from './admin-token.js';
import { statusProblems } from './agent-status-check.js';

/** @param options.token the agent's http.admin token, when /v1/status needs a login; default WARDLINE_ADMIN_TOKEN */
export async function agentStatusCommand(options: { url: string; json?: boolean; token?: string }): Promise<number> {
  let status: AgentStatus;
  try {
    const response = await fetch(new URL('/v1/status', options.url), { headers: adminHeaders(options.token), signal: AbortSignal.timeout(5000) });
    if (response.status === 401) throw new Error(LOGIN_REQUIRED_HINT);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    status = (await response.json()) as AgentStatus;
  } catch (error) {
    process.stderr.write(`cannot read the agent's status at ${options.url}: ${(error as Error).message}\n`);
    return 2;
  }
  const problems = statusProblems(status);
  const exitCode = problems.length > 0 ? 1 : 0;
  if (options.json) {
    // The status as the agent serves it, plus the check's verdict for scripts.
    process.stdout.write(`${JSON.stringify({ ...status, check: { ok: problems.length === 0, problems } }, null, 2)}\n`);
    return exitCode;
  }
  const lines = [
    `hospital ${status.hospital.id}${status.hospital.name ? ` (${status.hospital.name})` : ''}  agent ${status.agentId}  version ${status.version}`,
    `journal head seq ${status.journal.headSeq}  group commits ${status.journal.groupCommits}`,
    '',
    'links',
    ...status.links.map((l) => `  ${l.relay.padEnd(16)} ${l.state.padEnd(11)} since ${new Date(l.sinceMs).toISOString()}${l.lastError ? `  last error: ${l.lastError}` : ''}`),
    '',
    'feeds',
    ...status.feeds.flatMap((f) => [
      `  ${f.feed.padEnd(16)} -> ${f.relay.padEnd(12)} acked ${String(f.ackedSeq).padStart(9)}  backlog ${String(f.backlog.events).padStart(8)} events ${formatBytes(f.backlog.bytes).padStart(9)}  lag ${f.lagSeconds.toFixed(1)} s${f.lagThresholdSeconds ? ` (threshold ${formatDuration(f.lagThresholdSeconds)})` : ''}`,
      ...(f.class === undefined ? [] : [`  ${''.padEnd(16)}    ${feedBandwidthLine(f)}`]),
      ...(f.proofs && f.proofs.state !== 'off' ? [`  ${''.padEnd(16)}    ${proofLine(f.proofs)}`] : []),
      ...(f.control && f.control.state !== 'active' ? [`  ${''.padEnd(16)}    ${f.control.state.toUpperCase()}${f.control.reason ? `: ${f.control.reason}` : ''}${f.control.since ? ` since ${new Date(f.control.since).toISOString()}` : ''}`] : []),
    ]),
    '',
    'sources',
    ...status.sources.map((s) =>
      s.capture
        ? captureLine(s.name, s.kind, s.capture)
        : `  ${s.name.padEnd(16)} ${s.kind.padEnd(5)} ${s.state.padEnd(10)} received ${s.received}  acked ${s.acknowledged}  rejected ${s.rejected}` +
          (s.lastRejection ? `  last rejection: ${s.lastRejection.reason}` : ''),
    ),
    ...(status.disk ? ['', 'disk', ...diskLines(status.disk)] : []),
    ...(status.bandwidth ? ['', 'bandwidth', ...bandwidthLines(status.bandwidth)] : []),
    ...(status.ledger
      ? ['', 'egress ledger', `  ${status.ledger.records} records${status.ledger.head ? `, head ${status.ledger.head.index} ${status.ledger.head.hash.slice(0, 16)}… at ${new Date(status.ledger.head.atMs).toISOString()}` : ''}, kept ≥ ${status.ledger.retentionDays} days (wardline audit verify)`]
      : []),
    ...(status.alerts ? ['', 'alerts', ...alertLines(status.alerts)] : []),
    '',
    problems.length === 0 ? 'check: OK' : `check: FAILED\n${problems.map((p) => `  ${p.message}`).join('\n')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return exitCode;
}

/** A database source's capture status (agent/sources/database/capture-status.ts), as /v1/status serves it. */
type CaptureStatus = NonNullable<AgentStatus['sources'][number]['capture']>;

/**
 * A database source: state, commit-to-journal lag, rows/s and the WAL or binlog the
 * server retains for it (of its budget), then what it is doing or why it is not
 * capturing: "his  postgres  streaming  lag 0.04 s  rows/s 1987  retained 512.0 MiB of 4.0 GiB (12.5%)".
 */
export function captureLine(name: string, kind: string, c: CaptureStatus): string {
  const lag = c.lagMs === null ? '-' : c.lagMs < 10_000 ? `${(c.lagMs / 1000).toFixed(2)} s` : formatDuration(c.lagMs / 1000);
  const rate = c.rowsPerSecond < 10 ? String(Math.round(c.rowsPerSecond * 10) / 10) : String(Math.round(c.rowsPerSecond));
  const r = c.retained;
  let retained = r?.bytes === null || r?.bytes === undefined ? '-' : formatBytes(r.bytes);
  if (r && r.bytes !== null && r.budgetBytes !== null && r.budgetBytes > 0) {
    retained += ` of ${formatBytes(r.budgetBytes)} (${((r.bytes / r.budgetBytes) * 100).toFixed(1)}%${r.secondsToBudget === null ? '' : `, budget reached in ${formatDuration(r.secondsToBudget)}`})`;
  }
  const snapshot = c.state === 'snapshotting' && c.snapshot ? `  ${c.snapshot.percent === null ? '' : `${c.snapshot.percent.toFixed(1)}% `}table ${c.snapshot.table ?? '-'} ${c.snapshot.rowsCopied} rows` : '';
  const reason = c.reason && (c.state === 'stopped' || c.state === 'paused' || c.state === 'retrying') ? `  ${c.reason}` : '';
  return `  ${name.padEnd(16)} ${kind.padEnd(8)} ${c.state.padEnd(12)} lag ${lag}  rows/s ${rate}  retained ${retained}${snapshot}${reason}`;
}

function alertLines(a: AlertsStatus): string[] {
  const firing = a.active.map((alert) => `  FIRING since ${new Date(alert.atMs).toISOString()}  ${alert.severity.padEnd(8)} ${alert.message}`);
  const delivery = a.delivery.map((d) => `  ${d.sink}: ${d.delivered} delivered, ${d.failed} failed${d.lastError ? `  last error: ${d.lastError}` : ''}`);
  return [...(firing.length > 0 ? firing : ['  none firing']), ...delivery];
}

function diskLines(d: DiskStatus): string[] {
  const where = d.mount === null ? d.path : `${d.path} on ${d.mount}${d.filesystem && d.filesystem !== 'unknown' ? ` (${d.filesystem}, ${d.type})` : ''}`;
  const usage =
    d.usedPercent === null || d.freeBytes === null || d.totalBytes === null
      ? 'not read yet'
      : `${d.usedPercent.toFixed(1)}% used, ${formatBytes(d.freeBytes)} free of ${formatBytes(d.totalBytes)}`;
  const forecast = d.forecastFullInSeconds === null ? 'not growing' : `full in ${formatDuration(d.forecastFullInSeconds)}`;
  const trim = d.lastTrim
    ? `last trim ${new Date(d.lastTrim.atMs).toISOString()}: ${d.lastTrim.events} events${d.lastTrim.upToSeq === null ? '' : ` up to seq ${d.lastTrim.upToSeq}`}`
    : 'not trimmed yet';
  return [
    `  ${where}`,
    `  ${d.state.toUpperCase()}${d.reason ? ` (${d.reason})` : ''}  ${usage}  ${forecast}${d.probeError ? `  reading failed: ${d.probeError}` : ''}`,
    `  journal ${formatBytes(d.journalBytes ?? 0)}, ${d.journalRows} events from seq ${d.oldestRetainedSeq ?? '-'} (+${d.journalKeptRows ?? 0} kept as current versions)  ${trim}`,
  ];
}

function feedBandwidthLine(f: FeedStatus): string {
  if (f.blocked !== null) return `class ${f.class}  not sending: ${f.blocked}`;
  const eta = f.etaSeconds === null ? 'time to drain unknown' : f.etaSeconds === 0 ? 'caught up' : `drains in ${formatDuration(f.etaSeconds)}`;
  return `class ${f.class}  rate ${formatByteRate(f.rateBytesPerSecond)}  ${eta}`;
}

function bandwidthLines(b: UplinkStatus): string[] {
  const limit = b.rateLimitBytesPerSecond === null ? 'unlimited' : `${formatByteRate(b.rateLimitBytesPerSecond)}, burst ${formatBytes(b.burstBytes ?? 0)}`;
  return [
    `  limit ${limit}  in flight ${formatBytes(b.inFlightBytes)} of ${formatBytes(b.maxInFlightBytes)}  ${b.waitingBatches} batches waiting`,
    `  classes ${b.classes.join(' > ')}${b.timezone ? `  timetable in ${b.timezone}` : ''}`,
    `  windows in force: ${b.windowsInForce.length > 0 ? b.windowsInForce.join(', ') : 'none'}`,
    ...b.blockedClasses.map((c) => `  ${c} not sending: ${b.blockedReasons[c] ?? 'blocked'}`),
    `  next change: ${b.nextChange ? `${localTime(b.nextChange.atMs, b.timezone)} ${b.nextChange.description}` : 'none'}`,
  ];
}

/** "2026-11-22 06:00:00 Asia/Shanghai": the timetable's own clock, as the operator wrote the windows. */
function localTime(atMs: number, timeZone: string | null): string {
  if (!timeZone) return new Date(atMs).toISOString();
  return `${new Date(atMs).toLocaleString('sv-SE', { timeZone })} ${timeZone}`;
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** A feed's completeness proofs in one line: how far the relay's copy is proved complete, and what is wrong. */
export function proofLine(proofs: NonNullable<AgentStatus['feeds'][number]['proofs']>): string {
  if (proofs.state === 'unavailable') return `completeness not proved: ${proofs.problem ?? 'the relay takes no proofs'}`;
  const verified = proofs.verifiedThroughSeq > 0 ? `verified complete through seq ${proofs.verifiedThroughSeq}` : 'completeness: no window verified yet';
  return `${verified}${proofs.incidents > 0 ? `  ${proofs.incidents} INTEGRITY INCIDENT(S) at the relay (WL_A030)` : ''}${proofs.repaired > 0 ? `  ${proofs.repaired} resent` : ''}`;
}
