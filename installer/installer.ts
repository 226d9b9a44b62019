// `wardline install`: preflight, service user, directories, secrets, enrolment,
// config, program link and the systemd unit — as a plan of steps, so --dry-run
// prints exactly what a real run would do. Re-running upgrades in place: config,
// secrets, certificates, keys and data that exist are kept; the program link and
// the unit are replaced.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { join, relative } from 'node:path';
import { hashPassword, KEY_KINDS, readKeyringManifest, rotateKey } from '../agent/index.js';
import { createCertificateAuthority, issueServerCertificate } from '../cloud-relay/index.js';
import { parseHostPort } from '../runtime/index.js';
import { WARDLINE_VERSION } from '../protocol/index.js';
import { renderAgentConfig, validateAgentConfigText, type RelayCredentials } from './agent-config-file.js';
import type { InstallAnswers } from './answers.js';
import { enrolWithRelay } from './enrolment-client.js';
import { installLayout, SERVICE_USER, UNIT_NAME, type InstallLayout } from './install-layout.js';
import { evaluatePreflight, preflightFailed, renderPreflightTable, type PreflightCheck } from './preflight.js';
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
  let checks = evaluatePreflight(facts, { dailyBytes: a.volume.dailyBytes, retentionDays: a.volume.retentionDays });
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

  steps.push(run('useradd', ['--system', '--no-create-home', '--home-dir', '/var/lib/wardline', '--shell', '/usr/sbin/nologin', '--user-group', SERVICE_USER]));
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
    if (!existsSync(dir)) steps.push({ describe: `create ${dir} (mode ${mode.toString(8)})`, run: () => void mkdirSync(dir, { recursive: true, mode }) });
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

  // An upgrade keeps the config: HTTPS is turned on for new installs, and an old config without it is pointed out.
  const httpTls = upgrade ? undefined : dashboardTlsSteps(a, layout, steps);
  if (upgrade && !keptConfigHasHttpTls(layout.configFile)) {
    steps.push({ describe: `note: the kept config ${layout.configFile} serves the dashboard over plain HTTP; add http.tls (certFile, keyFile from \`wardline cert server\`) to turn HTTPS on` });
  }

  if (upgrade) steps.push({ describe: `keep the config ${layout.configFile}` });
  else {
    const text = renderAgentConfig({ answers: a, layout, relay, ...(adminPasswordFile ? { adminPasswordFile } : {}), ...(httpTls ? { httpTls } : {}) });
    validateAgentConfigText(text, layout.configFile); // before anything is written
    steps.push({ describe: `write the config ${layout.configFile} (validated with the agent's schema)`, run: () => writeFileSync(layout.configFile, text, { mode: 0o640 }) });
  }

  // The program: a link to the installed package, and a launcher.
  steps.push({
    describe: `link ${layout.programLink} -> ${o.packageRoot} (wardline ${WARDLINE_VERSION}) and write ${layout.launcher}`,
    run: () => {
      rmSync(layout.programLink, { force: true });
      symlinkSync(o.packageRoot, layout.programLink, 'dir');
      writeFileSync(layout.manifestFile, `${JSON.stringify({ version: WARDLINE_VERSION, installedAt: new Date().toISOString(), packageRoot: o.packageRoot }, null, 2)}\n`);
      writeFileSync(layout.launcher, `#!/bin/sh\nexec ${o.nodePath} ${join(layout.programLink, 'dist/cli/wardline.js')} "$@"\n`, { mode: 0o755 });
    },
  });

  // The unit names the paths as the service sees them (relative to the root).
  const systemPath = (p: string) => `/${relative(o.root, p)}`;
  const unit = renderSystemdUnit({ nodePath: o.nodePath, cliPath: `${systemPath(layout.programLink)}/dist/cli/wardline.js`, configFile: systemPath(layout.configFile), user: SERVICE_USER });
  steps.push({ describe: `write the systemd unit ${layout.unitFile}`, run: () => writeFileSync(layout.unitFile, unit, { mode: 0o644 }) });

  steps.push(run('chown', ['-R', `${SERVICE_USER}:${SERVICE_USER}`, layout.configDir, layout.dataDir]));
  steps.push(run('systemctl', ['daemon-reload']));
  steps.push(run('systemctl', upgrade ? ['restart', UNIT_NAME] : ['enable', '--now', UNIT_NAME]));

  const plan = steps.map((s) => s.describe);
  if (o.dryRun) {
    o.print(`Dry run: nothing written. Would:\n${plan.map((p) => `  - ${p}`).join('\n')}`);
    return { ok: true, upgrade, checks, plan, layout };
  }
  for (const step of steps) {
    await step.run?.();
    o.print(`  ✓ ${step.describe}`);
  }
  o.print(upgrade ? 'Upgraded in place: config, secrets, keys and data were kept.' : `Installed. Config: ${layout.configFile}`);
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

function keptConfigHasHttpTls(configFile: string): boolean {
  try {
    const config = parseYaml(readFileSync(configFile, 'utf8')) as { http?: { tls?: unknown } } | null;
    return config?.http?.tls !== undefined;
  } catch {
    return false; // the agent will say what is wrong with it at start
  }
}
