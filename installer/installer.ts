// `wardline install`: preflight, service user, directories, secrets, enrolment,
// config, program copy and the systemd unit — as a plan of steps, so --dry-run
// prints exactly what a real run would do. Every step checks before it acts, so
// re-running upgrades in place: config, secrets, certificates, keys and data that
// exist are kept; a new program copy is switched in and the unit rewritten.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { dirname, join } from 'node:path';
import { hashPassword, KEY_KINDS, readKeyringManifest, rotateKey } from '../agent/index.js';
import { createCertificateAuthority, issueServerCertificate } from '../cloud-relay/index.js';
import { parseHostPort } from '../runtime/index.js';
import { WARDLINE_VERSION } from '../protocol/index.js';
import { renderAgentConfig, validateAgentConfigText, type RelayCredentials } from './agent-config-file.js';
import type { InstallAnswers } from './answers.js';
import { enrolWithRelay } from './enrolment-client.js';
import { installLayout, SERVICE_USER, systemPath, UNIT_NAME, type InstallLayout } from './install-layout.js';
import { evaluatePreflight, preflightFailed, renderPreflightTable, type PreflightCheck } from './preflight.js';
import { installProgram, makeReadableByAll } from './program-copy.js';
import { installChecks, serviceUserExists, type SystemdState } from './install-checks.js';
import { renderSystemdUnit } from './systemd-unit.js';
import type { SystemProbe } from './system-probe.js';

/** Retired keys are kept this long (the agent's default keys.retainRetired): 365 days. */
const RETAIN_RETIRED_MS = 365 * 86_400_000;

export interface InstallOptions {
  root: string;
  answers: InstallAnswers;
  dryRun: boolean;
  force: boolean;
  probe: SystemProbe;
  /** The package being installed (the checkout or npm package root). */
  packageRoot: string;
  nodePath: string;
  /** Skip the relay reachability check (it is a warning at most). */
  skipRelayCheck?: boolean;
  /** Write the unit but run no systemctl (no systemd on this machine: a container, an image build). */
  noSystemctl?: boolean;
  /** Whether systemd runs here; default: looked up (/run/systemd/system and `systemctl --version`). */
  systemd?: SystemdState;
  print: (line: string) => void;
}

export interface InstallResult {
  ok: boolean;
  upgrade: boolean;
  checks: PreflightCheck[];
  /** What was (or, with --dry-run, would be) done, in order. */
  plan: string[];
  layout: InstallLayout;
}

interface Step {
  describe: string;
  run?: () => Promise<void> | void;
}

export async function install(o: InstallOptions): Promise<InstallResult> {
  const layout = installLayout(o.root);
  const a = o.answers;
  const upgrade = existsSync(layout.configFile);
  const onSystem = o.root === '/';

  const facts = await o.probe.gather({
    dataDir: layout.dataDir,
    listens: [a.http.listen, ...a.sources.map((s) => s.listen)],
    ...(o.skipRelayCheck ? {} : { relayAddress: a.relay.address }),
  });
  let checks = [
    ...evaluatePreflight(facts, { dailyBytes: a.volume.dailyBytes, retentionDays: a.volume.retentionDays }),
    ...installChecks({ layout, onSystem, noSystemctl: o.noSystemctl ?? false, packageRoot: o.packageRoot, feeds: upgrade ? [] : a.feeds, ...(o.systemd ? { systemd: o.systemd } : {}) }),
  ];
  // On an upgrade the running agent holds its own ports.
  if (upgrade) checks = checks.map((c) => (c.name.startsWith('port ') && c.status === 'fail' ? { ...c, status: 'warn', detail: `${c.detail} (probably the running agent)` } : c));
  o.print(`Preflight (${upgrade ? 'upgrade' : 'new install'} under ${o.root}):\n${renderPreflightTable(checks)}`);
  if (preflightFailed(checks) && !o.force) {
    o.print('Refusing to install: fix the FAIL lines above, or re-run with --force to install anyway.');
    return { ok: false, upgrade, checks, plan: [], layout };
  }

  const steps: Step[] = [];
  const run = (cmd: string, args: string[]): Step =>
    onSystem ? { describe: `run: ${cmd} ${args.join(' ')}`, run: () => void execFileSync(cmd, args, { stdio: 'inherit' }) } : { describe: `would run on a real root: ${cmd} ${args.join(' ')}` };
  const systemctl = (args: string[]): Step =>
    onSystem && o.noSystemctl ? { describe: `not run (--no-systemctl): systemctl ${args.join(' ')}` } : run('systemctl', args);
  // Paths as the installed system sees them: what agent.yaml, the unit and the launcher name.
  const sys = (p: string) => systemPath(o.root, p);

  if (serviceUserExists(o.root, onSystem)) steps.push({ describe: `keep the service user ${SERVICE_USER} (it exists)` });
  else steps.push(run('useradd', ['--system', '--no-create-home', '--home-dir', '/var/lib/wardline', '--shell', '/usr/sbin/nologin', '--user-group', SERVICE_USER]));
  for (const [dir, mode] of [
    [layout.configDir, 0o750],
    [layout.secretsDir, 0o700],
    [layout.tlsDir, 0o700],
    [layout.keysDir, 0o700],
    [layout.dataDir, 0o700],
    [layout.programDir, 0o755],
    [join(layout.root, 'etc/systemd/system'), 0o755],
    [join(layout.root, 'usr/local/bin'), 0o755],
  ] as const) {
    if (!existsSync(dir)) steps.push({ describe: `create ${dir} (mode ${mode.toString(8)})`, run: () => createDirectory(dir, mode) });
  }

  // Relay credentials.
  const tls = { caFile: join(layout.tlsDir, 'ca.crt'), certFile: join(layout.tlsDir, 'client.crt'), keyFile: join(layout.secretsDir, 'client.key') };
  let relay: RelayCredentials;
  if (a.relay.enrol || a.relay.import) {
    relay = { kind: 'mtls', ...tls };
    if (existsSync(tls.certFile) && existsSync(tls.keyFile)) steps.push({ describe: `keep the client certificate ${tls.certFile} and key ${tls.keyFile}` });
    else if (a.relay.enrol) {
      const enrol = a.relay.enrol;
      steps.push({
        describe: `enrol with ${enrol.url}: new key ${tls.keyFile} (0600), CSR, signed certificate ${tls.certFile}, relay CA ${tls.caFile}`,
        run: async () => {
          const result = await enrolWithRelay({ url: enrol.url, token: enrol.token, caPem: readFileSync(enrol.caFile, 'utf8'), hospitalId: a.hospital.id });
          writeFileSync(tls.keyFile, result.keyPem, { mode: 0o600 });
          writeFileSync(tls.certFile, result.certPem, { mode: 0o644 });
          writeFileSync(tls.caFile, result.caPem, { mode: 0o644 });
        },
      });
    } else {
      const imp = a.relay.import!;
      steps.push({
        describe: `import ${imp.certFile}, ${imp.keyFile} (to 0600) and CA ${imp.caFile}`,
        run: () => {
          copyFileSync(imp.certFile, tls.certFile);
          writeFileSync(tls.keyFile, readFileSync(imp.keyFile), { mode: 0o600 });
          copyFileSync(imp.caFile, tls.caFile);
        },
      });
    }
  } else {
    const secretFile = join(layout.secretsDir, 'relay-secret');
    relay = { kind: 'secret', secretFile, ...(a.relay.caFile ? { caFile: tls.caFile } : {}) };
    if (existsSync(secretFile)) steps.push({ describe: `keep the relay secret ${secretFile}` });
    else steps.push({ describe: `copy the relay secret to ${secretFile} (0600)`, run: () => writeFileSync(secretFile, readFileSync(a.relay.secretFile!), { mode: 0o600 }) });
    if (a.relay.caFile && !existsSync(tls.caFile)) steps.push({ describe: `copy the relay CA to ${tls.caFile}`, run: () => copyFileSync(a.relay.caFile!, tls.caFile) });
  }

  // Pseudonym and encryption keys, via the key-ring code (one first key of each kind).
  for (const kind of KEY_KINDS) {
    const present = existsSync(layout.keysDir) && readKeyringManifest(layout.keysDir).keys.some((k) => k.kind === kind && k.retiredAt === null);
    if (present) steps.push({ describe: `keep the active ${kind} key in ${layout.keysDir}` });
    else steps.push({ describe: `create the first ${kind} key in ${layout.keysDir} (0600)`, run: () => void rotateKey({ dir: layout.keysDir, kind, retainRetiredMs: RETAIN_RETIRED_MS }) });
  }

  const adminPasswordFile = a.admin ? join(layout.secretsDir, 'admin-password.hash') : undefined;
  if (a.admin && adminPasswordFile) {
    if (existsSync(adminPasswordFile)) steps.push({ describe: `keep the dashboard password hash ${adminPasswordFile}` });
    else {
      const source = a.admin.passwordFile;
      steps.push({
        describe: `store the scrypt hash of the dashboard password in ${adminPasswordFile} (0600)`,
        run: async () => writeFileSync(adminPasswordFile, `${await hashPassword(readFileSync(source, 'utf8').trim())}\n`, { mode: 0o600 }),
      });
    }
  }

  // The admin token: the agent's http.admin.tokenFile, and what the launcher hands the CLI on this host (as root).
  if (existsSync(layout.adminTokenFile)) steps.push({ describe: `keep the admin token ${layout.adminTokenFile}` });
  else {
    steps.push({
      describe: `create the admin token ${layout.adminTokenFile} (0600; \`wardline agent status\` on this host reads it)`,
      run: () => writeFileSync(layout.adminTokenFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 }),
    });
  }

  // An upgrade keeps the config: HTTPS is turned on for new installs, and an old config without it is pointed out.
  const httpTls = upgrade ? undefined : dashboardTlsSteps(a, layout, steps);
  if (upgrade && !keptConfigHasHttpTls(layout.configFile)) {
    steps.push({ describe: `note: the kept config ${layout.configFile} serves the dashboard over plain HTTP; add http.tls (certFile, keyFile from \`wardline cert server\`) to turn HTTPS on` });
  }

  if (upgrade) steps.push({ describe: `keep the config ${layout.configFile}` });
  else {
    const text = renderAgentConfig({
      answers: a,
      layout: installLayout('/'),
      relay: relativeCredentials(relay, sys),
      ...(adminPasswordFile ? { adminPasswordFile: sys(adminPasswordFile) } : {}),
      adminTokenFile: sys(layout.adminTokenFile),
      feedsWithoutPolicy: a.feeds.filter((f) => f.policy !== 'proposed').map((f) => f.name),
      ...(httpTls ? { httpTls: { certFile: sys(httpTls.certFile), keyFile: sys(httpTls.keyFile) } } : {}),
    });
    validateAgentConfigText(text, layout.configFile); // before anything is written
    steps.push({ describe: `write the config ${layout.configFile} (validated with the agent's schema)`, run: () => writeFileSync(layout.configFile, text, { mode: 0o640 }) });
  }

  // The program: a self-contained copy under /opt/wardline/<version>, switched in atomically, and a launcher.
  const programDir = join(layout.programDir, WARDLINE_VERSION);
  steps.push({
    describe: `copy the program (dist, production node_modules with the native SQLite module) from ${o.packageRoot} to ${programDir}, then switch ${layout.programLink} to it (the version it replaces stays as ${layout.previousLink})`,
    run: () => {
      const result = installProgram({ programDir: layout.programDir, packageRoot: o.packageRoot, version: WARDLINE_VERSION, nodePath: o.nodePath });
      makeReadableByAll(result.versionDir);
      writeFileSync(layout.manifestFile, `${JSON.stringify({ version: WARDLINE_VERSION, installedAt: new Date().toISOString(), from: o.packageRoot, previous: result.previous ?? null }, null, 2)}\n`);
    },
  });
  const cliPath = `${sys(layout.programLink)}/dist/cli/wardline.js`;
  const agentUrl = localAgentUrl((upgrade && keptConfigHttpListen(layout.configFile)) || a.http.listen, httpTls !== undefined || (upgrade && keptConfigHasHttpTls(layout.configFile)));
  steps.push({
    describe: `write the launcher ${layout.launcher} (runs ${cliPath}; the CLI's default agent address ${agentUrl})`,
    run: () => writeFileSync(layout.launcher, renderLauncher(o.nodePath, cliPath, sys(layout.adminTokenFile), sys(join(layout.tlsDir, 'dashboard-ca/ca.crt')), agentUrl), { mode: 0o755 }),
  });

  // The unit names the paths as the service sees them (relative to the root).
  const unit = renderSystemdUnit({ nodePath: o.nodePath, cliPath, configFile: sys(layout.configFile), user: SERVICE_USER });
  steps.push({ describe: `write the systemd unit ${layout.unitFile}`, run: () => writeFileSync(layout.unitFile, unit, { mode: 0o644 }) });

  steps.push(run('chown', ['-R', `${SERVICE_USER}:${SERVICE_USER}`, layout.configDir, layout.dataDir]));
  steps.push(systemctl(['daemon-reload']));
  steps.push(systemctl(upgrade ? ['restart', UNIT_NAME] : ['enable', '--now', UNIT_NAME]));

  const plan = steps.map((s) => s.describe);
  if (o.dryRun) {
    o.print(`Dry run: nothing written. Would:\n${plan.map((p) => `  - ${p}`).join('\n')}`);
    return { ok: true, upgrade, checks, plan, layout };
  }
  const done: string[] = [];
  for (const step of steps) {
    try {
      await step.run?.();
    } catch (error) {
      // Say exactly what is left: every step checks before it acts, so the same command resumes.
      o.print(`  ✗ ${step.describe}\n    failed: ${(error as Error).message.trim()}`);
      o.print(done.length === 0 ? 'Nothing was changed.' : `Left in place (a re-run keeps these and continues; \`wardline uninstall --purge\` removes them):\n${done.map((d) => `  - ${d}`).join('\n')}`);
      o.print(`Not done:\n${steps.slice(steps.indexOf(step)).map((s) => `  - ${s.describe}`).join('\n')}`);
      return { ok: false, upgrade, checks, plan, layout };
    }
    if (step.run) done.push(step.describe);
    o.print(`  ✓ ${step.describe}`);
  }
  o.print(upgrade ? 'Upgraded in place: config, secrets, keys and data were kept.' : `Installed. Config: ${layout.configFile}`);
  if (onSystem && o.noSystemctl) o.print(`systemctl was not run (--no-systemctl): when systemd runs, \`systemctl daemon-reload && systemctl ${upgrade ? 'restart' : 'enable --now'} ${UNIT_NAME}\`.`);
  o.print(`Check it: wardline agent status   (the launcher points the CLI at ${agentUrl})`);
  return { ok: true, upgrade, checks, plan, layout };
}

/**
 * HTTPS for the dashboard (answers http.tls): by default a CA of this agent's
 * own in tls/dashboard-ca and a server certificate from it in tls/dashboard
 * (key 0600) for the names and address browsers use; or the hospital's own
 * certificate, copied in. Returns the files the config names; kept on upgrade.
 */
function dashboardTlsSteps(a: InstallAnswers, layout: InstallLayout, steps: Step[]): { certFile: string; keyFile: string } | undefined {
  if (a.http.tls === 'off') return undefined;
  const caDir = join(layout.tlsDir, 'dashboard-ca');
  const outDir = join(layout.tlsDir, 'dashboard');
  const files = { certFile: join(outDir, 'server.crt'), keyFile: join(outDir, 'server.key') };
  if (existsSync(files.certFile) && existsSync(files.keyFile)) {
    steps.push({ describe: `keep the dashboard's HTTPS certificate ${files.certFile}` });
    return files;
  }
  const own = a.http.tls === 'self-signed' ? undefined : a.http.tls;
  if (own) {
    steps.push({
      describe: `copy the dashboard's HTTPS certificate to ${files.certFile} and its key to ${files.keyFile} (0600)`,
      run: () => {
        mkdirSync(outDir, { recursive: true, mode: 0o700 });
        copyFileSync(own.certFile, files.certFile);
        writeFileSync(files.keyFile, readFileSync(own.keyFile), { mode: 0o600 });
      },
    });
    return files;
  }
  const listenHost = parseHostPort(a.http.listen)!.host;
  const ipAddresses = [...new Set(['127.0.0.1', ...(isIP(listenHost) !== 0 && listenHost !== '0.0.0.0' && listenHost !== '::' ? [listenHost] : [])])];
  const dnsNames = [...new Set(['localhost', ...a.http.hostNames])];
  steps.push({
    describe: `create the dashboard's HTTPS certificate for ${[...dnsNames, ...ipAddresses].join(', ')} in ${outDir} (key 0600), signed by a new CA in ${caDir}: have browsers trust ${join(caDir, 'ca.crt')}, or replace the certificate with one from the hospital's CA`,
    run: async () => {
      if (!existsSync(join(caDir, 'ca.crt'))) await createCertificateAuthority(caDir, { commonName: 'Wardline agent dashboard CA' });
      await issueServerCertificate(caDir, outDir, { dnsNames, ipAddresses });
    },
  });
  return files;
}

/** The kept config's http.listen, when it is a host:port (an upgrade keeps the config, so the launcher follows it). */
function keptConfigHttpListen(configFile: string): string | undefined {
  try {
    const listen = (parseYaml(readFileSync(configFile, 'utf8')) as { http?: { listen?: unknown } } | null)?.http?.listen;
    return typeof listen === 'string' && parseHostPort(listen) ? listen : undefined;
  } catch {
    return undefined;
  }
}

function keptConfigHasHttpTls(configFile: string): boolean {
  try {
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { http?: { tls?: unknown } } | null;
    return config?.http?.tls !== undefined;
  } catch {
    return false; // the agent will say what is wrong with it at start
  }
}

/** Creates dir with mode; missing parents get 0755, and directories that exist keep their modes (etc/, var/ of a --root). */
function createDirectory(dir: string, mode: number): void {
  const parent = dirname(dir);
  if (!existsSync(parent)) createDirectory(parent, 0o755);
  mkdirSync(dir, { mode });
}

function relativeCredentials(relay: RelayCredentials, sys: (p: string) => string): RelayCredentials {
  if (relay.kind === 'mtls') return { kind: 'mtls', caFile: sys(relay.caFile), certFile: sys(relay.certFile), keyFile: sys(relay.keyFile) };
  return { kind: 'secret', secretFile: sys(relay.secretFile), ...(relay.caFile ? { caFile: sys(relay.caFile) } : {}) };
}

/**
 * The address the CLI on this host reaches the installed agent at: its listen
 * address, or 127.0.0.1 when it listens on all addresses (the dashboard's
 * certificate names 127.0.0.1 and the listen address); https when http.tls.
 */
export function localAgentUrl(listen: string, https: boolean): string {
  const { host, port } = parseHostPort(listen)!;
  const local = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  return `${https ? 'https' : 'http'}://${isIP(local) === 6 ? `[${local}]` : local}:${port}`;
}

/**
 * /usr/local/bin/wardline: the installed CLI. Run as root on this host it passes
 * the agent's admin token and trusts the dashboard's own CA, so `wardline agent
 * status` works without --token or --url; explicit WARDLINE_ADMIN_TOKEN and
 * WARDLINE_AGENT_URL win.
 */
export function renderLauncher(nodePath: string, cliPath: string, tokenFile: string, dashboardCaFile: string, agentUrl: string): string {
  return `#!/bin/sh
# Wardline CLI — written by \`wardline install\`; runs the installed copy (/opt/wardline/current).
# The installed agent's address (http.listen, HTTPS when http.tls), the CLI's default --url.
if [ -z "$WARDLINE_AGENT_URL" ]; then WARDLINE_AGENT_URL=${agentUrl}; export WARDLINE_AGENT_URL; fi
if [ -z "$WARDLINE_ADMIN_TOKEN" ] && [ -r ${tokenFile} ]; then WARDLINE_ADMIN_TOKEN=$(cat ${tokenFile}); export WARDLINE_ADMIN_TOKEN; fi
if [ -z "$NODE_EXTRA_CA_CERTS" ] && [ -r ${dashboardCaFile} ]; then NODE_EXTRA_CA_CERTS=${dashboardCaFile}; export NODE_EXTRA_CA_CERTS; fi
exec ${nodePath} ${cliPath} "$@"
`;
}
