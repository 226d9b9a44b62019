// Preflight decisions and the rendered unit and config: too little disk, a port
// in use (a real listening socket), and the unit checked by systemd-analyze.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InstallAnswersSchema, evaluatePreflight, install, installLayout, preflightFailed, renderPreflightTable, renderSystemdUnit, requiredDiskBytes, type SystemFacts, type SystemProbe } from '../../installer/index.js';
import { renderAgentConfig, validateAgentConfigText } from '../../installer/agent-config-file.js';
import { portFree } from '../../installer/system-probe.js';
import { installChecks, unreachableAncestor } from '../../installer/install-checks.js';
import { makeTempDir } from '../support/temp-dir.js';

const GiB = 1024 ** 3;
const good: SystemFacts = { platform: 'linux', arch: 'x64', nodeVersion: 'v20.19.0', cpus: 4, memoryTotalBytes: 8 * GiB, diskFreeBytes: 500 * GiB, ports: [{ listen: '0.0.0.0:2575', free: true }], nowMs: Date.parse('2026-06-01T00:00:00Z') };
const req = { dailyBytes: 2 * GiB, retentionDays: 14 };
const answers = InstallAnswersSchema.parse({
  hospital: { id: 'h1', name: 'Hospital' },
  relay: { address: 'relay.example:7443', secretFile: '/dev/null', allowPlaintext: true },
  sources: [{ name: 'lis', listen: '127.0.0.1:2575' }],
  http: { listen: '127.0.0.1:8480' },
  feeds: [{ name: 'clinical', streams: ['adt'] }],
});

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('preflight', () => {
  it('passes on a good machine', () => {
    const checks = evaluatePreflight(good, req);
    expect(preflightFailed(checks)).toBe(false);
    expect(renderPreflightTable(checks)).toContain('PASS  disk');
  });
  it('fails on too little disk for the stated volume, and warns when just enough', () => {
    const need = requiredDiskBytes(req);
    expect(evaluatePreflight({ ...good, diskFreeBytes: need - 1 }, req).find((c) => c.name === 'disk')?.status).toBe('fail');
    expect(evaluatePreflight({ ...good, diskFreeBytes: need + 1 }, req).find((c) => c.name === 'disk')?.status).toBe('warn');
  });
  it('fails on old Node, a wrong clock and a non-Linux OS; the relay is only a warning', () => {
    const checks = evaluatePreflight({ ...good, nodeVersion: 'v20.18.1', nowMs: 0, platform: 'darwin', relay: { address: 'r:1', resolved: false, answered: false, detail: 'does not resolve' } }, req);
    const status = Object.fromEntries(checks.map((c) => [c.name, c.status]));
    expect(status).toMatchObject({ node: 'fail', clock: 'fail', os: 'fail', relay: 'warn' });
  });
  it('sees a port in use by a real listening socket', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect((await portFree(`127.0.0.1:${port}`)).free).toBe(false);
    } finally {
      server.close();
    }
    expect((await portFree(`127.0.0.1:${port}`)).free).toBe(true);
  });
  it('refuses to install on a fail unless --force, writing nothing', async () => {
    const temp = makeTempDir('wardline-installer-unit-');
    try {
      const probe: SystemProbe = { gather: async () => ({ ...good, diskFreeBytes: 1024, ports: [{ listen: '127.0.0.1:2575', free: false, detail: 'EADDRINUSE' }] }) };
      const lines: string[] = [];
      const base = { root: join(temp.path, 'root'), answers, dryRun: false, probe, packageRoot: temp.path, nodePath: process.execPath, print: (l: string) => lines.push(l) };
      const refused = await install({ ...base, force: false });
      expect(refused.ok).toBe(false);
      expect(lines.join('\n')).toMatch(/FAIL {2}disk[\s\S]*FAIL {2}port 127\.0\.0\.1:2575 +in use: EADDRINUSE[\s\S]*Refusing to install/);
      const dry = await install({ ...base, force: true, dryRun: true });
      expect(dry.ok).toBe(true);
      expect(dry.plan.some((p) => p.includes('useradd --system'))).toBe(true);
    } finally {
      temp.remove();
    }
  });
});

describe('install checks', () => {
  const layout = installLayout('/');
  const base = { layout, packageRoot: '/nonexistent', feeds: [{ name: 'clinical', streams: ['adt'] }] };
  it('refuses without systemd unless told to only write the unit', () => {
    const down = { running: false, detail: 'systemd is not running here (no /run/systemd/system: a container or chroot?)' };
    const refused = installChecks({ ...base, onSystem: true, noSystemctl: false, systemd: down });
    expect(refused.find((c) => c.name === 'systemd')).toEqual({ name: 'systemd', status: 'fail', detail: `${down.detail}: the service cannot be started; install with --no-systemctl to only write the unit` });
    expect(installChecks({ ...base, onSystem: true, noSystemctl: true, systemd: down }).find((c) => c.name === 'systemd')?.status).toBe('warn');
    expect(installChecks({ ...base, onSystem: false, noSystemctl: false }).some((c) => c.name === 'systemd')).toBe(false);
  });
  it('fails when the service user could not reach the program, and warns of a feed without a policy', () => {
    const temp = makeTempDir('wardline-reach-');
    try {
      const root = join(temp.path, 'root');
      mkdirSync(join(root, 'opt'), { recursive: true, mode: 0o700 });
      expect(unreachableAncestor(root, join(root, 'opt/wardline'))).toBe(join(root, 'opt'));
      const checks = installChecks({ ...base, layout: installLayout(root), onSystem: false, noSystemctl: false });
      expect(checks.find((c) => c.name === 'program path')).toMatchObject({ status: 'fail', detail: expect.stringContaining('(mode 700) stops the wardline user reaching') });
      expect(checks.find((c) => c.name === 'package')?.status).toBe('fail');
      expect(checks.find((c) => c.name === 'feed clinical')).toMatchObject({ status: 'warn', detail: expect.stringContaining('identifiers (MRN, names, phone numbers) in clear') });
      // With the proposed policy the feed passes; "none" keeps the warning.
      const feeds = [{ name: 'clinical', streams: ['adt'], policy: 'proposed' as const }, { name: 'raw', streams: ['adt'], policy: 'none' as const }];
      const withPolicy = installChecks({ ...base, feeds, layout: installLayout(root), onSystem: false, noSystemctl: false });
      expect(withPolicy.find((c) => c.name === 'feed clinical')).toMatchObject({ status: 'pass', detail: expect.stringContaining('proposed policy') });
      expect(withPolicy.find((c) => c.name === 'feed raw')?.status).toBe('warn');
    } finally {
      temp.remove();
    }
  });
  it('requires an admin password when the dashboard listens beyond loopback', () => {
    const parsed = InstallAnswersSchema.safeParse({ hospital: { id: 'h1' }, relay: { address: 'relay.example:7443', secretFile: '/dev/null', allowPlaintext: true }, feeds: [{ name: 'clinical', streams: ['adt'] }] });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({ path: ['admin', 'passwordFile'], message: expect.stringContaining('http.listen "0.0.0.0:8480" opens the dashboard to the network') });
  });
});

describe('rendered files', () => {
  it('writes a commented agent.yaml that the agent schema accepts', () => {
    const layout = installLayout('/');
    const text = renderAgentConfig({ answers, layout, relay: { kind: 'mtls', caFile: '/etc/wardline/tls/ca.crt', certFile: '/etc/wardline/tls/client.crt', keyFile: '/etc/wardline/secrets/client.key' } });
    expect(text).toContain('# Wardline agent configuration');
    expect(() => validateAgentConfigText(text, '/etc/wardline/agent.yaml')).not.toThrow();
  });
  const unit = renderSystemdUnit({ nodePath: process.execPath, cliPath: '/opt/wardline/current/dist/cli/wardline.js', configFile: '/etc/wardline/agent.yaml', user: 'wardline' });
  it('hardens the unit and leaves out MemoryDenyWriteExecute', () => {
    for (const line of ['Restart=always', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'ProtectKernelTunables=yes', 'ProtectKernelModules=yes', 'ProtectKernelLogs=yes', 'ProtectControlGroups=yes', 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX', 'LockPersonality=yes', 'RestrictRealtime=yes', 'RestrictSUIDSGID=yes', 'SystemCallArchitectures=native', 'StateDirectory=wardline', 'ConfigurationDirectory=wardline', 'User=wardline', 'KillSignal=SIGTERM', 'TimeoutStopSec=30', 'RestartPreventExitStatus=78', `ExecStartPre=${process.execPath} /opt/wardline/current/dist/cli/wardline.js agent check-config --config /etc/wardline/agent.yaml`]) {
      expect(unit).toContain(`\n${line}\n`);
    }
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute/m);
  });
  it.skipIf(!hasSystemdAnalyze())('passes systemd-analyze verify', () => {
    const temp = makeTempDir('wardline-unit-');
    try {
      mkdirSync(join(temp.path, 'opt/wardline/current/dist/cli'), { recursive: true });
      const file = join(temp.path, 'wardline-agent.service');
      writeFileSync(file, unit);
      // verify checks ExecStart's binary exists (node does); the script path is an argument only.
      const out = execFileSync('systemd-analyze', ['verify', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out).toBe('');
    } finally {
      temp.remove();
    }
  });
});
