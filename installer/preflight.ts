// Preflight checks: pure decisions over facts a SystemProbe gathers, so tests can
// inject too little disk and the real system gives the real numbers.
export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface PreflightCheck {
  name: string;
  status: CheckStatus;
  detail: string;
}

/** What the probe reports; each member may be unknown (undefined). */
export interface SystemFacts {
  platform: string;
  arch: string;
  distro?: string;
  nodeVersion: string;
  cpus?: number;
  memoryTotalBytes?: number;
  /** Free bytes on the filesystem that will hold the data directory. */
  diskFreeBytes?: number;
  /** host:port -> whether it could be bound. */
  ports: { listen: string; free: boolean; detail?: string }[];
  nowMs: number;
  /** Relay: resolved and answered on its port; undefined when not checked. */
  relay?: { address: string; resolved: boolean; answered: boolean; detail: string };
}

export interface PreflightRequirements {
  dailyBytes: number;
  retentionDays: number;
}

export const MIN_NODE_VERSION: readonly [number, number] = [20, 19];
export const MIN_MEMORY_BYTES = 1 * 1024 **3;
export const RECOMMENDED_MEMORY_BYTES = 2 * 1024 ** 3;
export const MIN_CPUS = 2;
/** Room for SQLite WAL, the local copy and the egress ledger beyond the journal itself. */
export const DISK_HEADROOM_FACTOR = 1.5;
export const DISK_BASE_BYTES = 1024 ** 3;
/** A clock before this is wrong (certificates would be "not yet valid"). */
export const EARLIEST_SANE_CLOCK_MS = Date.parse('2025-01-01T00:00:00Z');
export const LATEST_SANE_CLOCK_MS = Date.parse('2100-01-01T00:00:00Z');
const SUPPORTED_ARCHS = new Set(['x64', 'arm64']);

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Disk the data directory needs for `retentionDays` of `dailyBytes`. */
export function requiredDiskBytes(r: PreflightRequirements): number {
  return Math.ceil(r.dailyBytes * r.retentionDays * DISK_HEADROOM_FACTOR + DISK_BASE_BYTES);
}

export function evaluatePreflight(facts: SystemFacts, req: PreflightRequirements): PreflightCheck[] {
  const checks: PreflightCheck[] = [];
  const os = `${facts.platform}/${facts.arch}${facts.distro ? ` (${facts.distro})` : ''}`;
  if (facts.platform !== 'linux') checks.push({ name: 'os', status: 'fail', detail: `${os}: Wardline installs as a systemd service on Linux` });
  else if (!SUPPORTED_ARCHS.has(facts.arch)) checks.push({ name: 'os', status: 'warn', detail: `${os}: untested architecture (x64 and arm64 are tested)` });
  else checks.push({ name: 'os', status: 'pass', detail: os });

  const [major = 0, minor = 0] = facts.nodeVersion.replace(/^v/, '').split('.').map(Number);
  const nodeOk = major > MIN_NODE_VERSION[0] || (major === MIN_NODE_VERSION[0] && minor >= MIN_NODE_VERSION[1]);
  checks.push({ name: 'node', status: nodeOk ? 'pass' : 'fail', detail: `${facts.nodeVersion}${nodeOk ? '' : ` (need ≥ ${MIN_NODE_VERSION.join('.')})`}` });

  if (facts.cpus === undefined) checks.push({ name: 'cpu', status: 'warn', detail: 'unknown' });
  else checks.push({ name: 'cpu', status: facts.cpus >= MIN_CPUS ? 'pass' : 'warn', detail: `${facts.cpus} cores${facts.cpus >= MIN_CPUS ? '' : ` (≥ ${MIN_CPUS} recommended)`}` });

  if (facts.memoryTotalBytes === undefined) checks.push({ name: 'memory', status: 'warn', detail: 'unknown' });
  else {
    const m = facts.memoryTotalBytes;
    const status: CheckStatus = m < MIN_MEMORY_BYTES ? 'fail' : m < RECOMMENDED_MEMORY_BYTES ? 'warn' : 'pass';
    checks.push({ name: 'memory', status, detail: `${formatBytes(m)}${status === 'pass' ? '' : ` (≥ ${formatBytes(RECOMMENDED_MEMORY_BYTES)} recommended)`}` });
  }

  const need = requiredDiskBytes(req);
  const basis = `${formatBytes(req.dailyBytes)}/day × ${req.retentionDays} days`;
  if (facts.diskFreeBytes === undefined) checks.push({ name: 'disk', status: 'warn', detail: `free space unknown; ${basis} needs ${formatBytes(need)}` });
  else {
    const free = facts.diskFreeBytes;
    const status: CheckStatus = free < need ? 'fail' : free < 2 * need ? 'warn' : 'pass';
    checks.push({ name: 'disk', status, detail: `${formatBytes(free)} free; ${basis} needs ${formatBytes(need)}${status === 'warn' ? ` (${formatBytes(2 * need)} recommended)` : ''}` });
  }

  for (const p of facts.ports) {
    checks.push({ name: `port ${p.listen}`, status: p.free ? 'pass' : 'fail', detail: p.free ? 'free' : `in use${p.detail ? `: ${p.detail}` : ''}` });
  }

  const clock = new Date(facts.nowMs).toISOString();
  const clockOk = facts.nowMs >= EARLIEST_SANE_CLOCK_MS && facts.nowMs < LATEST_SANE_CLOCK_MS;
  checks.push({ name: 'clock', status: clockOk ? 'pass' : 'fail', detail: clockOk ? clock : `${clock} is not plausible: set the time (NTP) first, certificates depend on it` });

  if (facts.relay) {
    const r = facts.relay;
    // Optional: the leased line may not be up yet on install day.
    checks.push({ name: 'relay', status: r.answered ? 'pass' : 'warn', detail: `${r.address}: ${r.detail}` });
  }
  return checks;
}

export function preflightFailed(checks: readonly PreflightCheck[]): boolean {
  return checks.some((c) => c.status === 'fail');
}

export function renderPreflightTable(checks: readonly PreflightCheck[]): string {
  const width = Math.max(5, ...checks.map((c) => c.name.length));
  const rows = checks.map((c) => `  ${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`);
  return [`  ${'    '}  ${'check'.padEnd(width)}  detail`, ...rows].join('\n');
}
