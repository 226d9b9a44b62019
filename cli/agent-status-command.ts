// `wardline agent status`: the agent's picture in the terminal, or JSON for scripts.
// Exits 1 when a link is not streaming, 2 when the agent cannot be reached, so it
// can drive a monitoring check.
import type { AgentStatus, DiskStatus, FeedStatus } from '../agent/agent-status.js';
import { formatByteRate, type UplinkStatus } from '../agent/bandwidth/index.js';

export async function agentStatusCommand(options: { url: string; json?: boolean }): Promise<number> {
  let status: AgentStatus;
  try {
    const response = await fetch(new URL('/v1/status', options.url), { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    status = (await response.json()) as AgentStatus;
  } catch (error) {
    process.stderr.write(`cannot read the agent's status at ${options.url}: ${(error as Error).message}\n`);
    return 2;
  }
  const linksDown = status.links.filter((l) => l.state !== 'streaming');
  if (options.json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return linksDown.length > 0 ? 1 : 0;
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
      `  ${f.feed.padEnd(16)} -> ${f.relay.padEnd(12)} acked ${String(f.ackedSeq).padStart(9)}  backlog ${String(f.backlog.events).padStart(8)} events ${formatBytes(f.backlog.bytes).padStart(9)}  lag ${f.lagSeconds.toFixed(1)} s`,
      ...(f.class === undefined ? [] : [`  ${''.padEnd(16)}    ${feedBandwidthLine(f)}`]),
    ]),
    '',
    'sources',
    ...status.sources.map(
      (s) =>
        `  ${s.name.padEnd(16)} ${s.kind.padEnd(5)} ${s.state.padEnd(10)} received ${s.received}  acked ${s.acknowledged}  rejected ${s.rejected}` +
        (s.lastRejection ? `  last rejection: ${s.lastRejection.reason}` : ''),
    ),
    ...(status.disk ? ['', 'disk', ...diskLines(status.disk)] : []),
    ...(status.bandwidth ? ['', 'bandwidth', ...bandwidthLines(status.bandwidth)] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return linksDown.length > 0 ? 1 : 0;
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
    `  journal ${formatBytes(d.journalBytes ?? 0)}, ${d.journalRows} events from seq ${d.oldestRetainedSeq ?? '-'}  ${trim}`,
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
