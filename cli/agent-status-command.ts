// `wardline agent status`: the agent's picture in the terminal, or JSON for scripts.
// Exits 1 when a link is not streaming, 2 when the agent cannot be reached, so it
// can drive a monitoring check.
import type { AgentStatus } from '../agent/agent-status.js';

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
    ...status.feeds.map(
      (f) =>
        `  ${f.feed.padEnd(16)} -> ${f.relay.padEnd(12)} acked ${String(f.ackedSeq).padStart(9)}  backlog ${String(f.backlog.events).padStart(8)} events ${formatBytes(f.backlog.bytes).padStart(9)}  lag ${f.lagSeconds.toFixed(1)} s`,
    ),
    '',
    'sources',
    ...status.sources.map(
      (s) =>
        `  ${s.name.padEnd(16)} ${s.kind.padEnd(5)} ${s.state.padEnd(10)} received ${s.received}  acked ${s.acknowledged}  rejected ${s.rejected}` +
        (s.lastRejection ? `  last rejection: ${s.lastRejection.reason}` : ''),
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return linksDown.length > 0 ? 1 : 0;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
