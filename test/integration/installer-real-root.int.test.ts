// The installer as it runs on a real server, in a throwaway root: `npm run
// package`'s tarball unpacked into the root's /tmp, installed from there with no
// network at all (a new network namespace) and an unreachable npm registry,
// without --root, inside `unshare --mount --pid` + chroot with the host's /usr
// bound read-only and copies of /etc (so useradd and chown are the real ones,
// against the root's passwd/group/shadow). Then installed again as an upgrade,
// the unpacked package deleted, the service started as the unit says (its
// ExecStartPre, ExecStart and User, run as that user inside the root), /healthz
// and `wardline agent status` through the launcher, and uninstalled.
// Needs root (it is root in CI); systemd is not PID 1 here, hence --no-systemctl.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';

const exec = promisify(execFile);
const repo = join(import.meta.dirname, '../..');
const isRoot = process.getuid?.() === 0;
// The root binds the host's /usr, so node must live there, and not under /usr/local (the root's own).
const nodeInUsr = process.execPath.startsWith('/usr/') && !process.execPath.startsWith('/usr/local/');
const canRun = isRoot && nodeInUsr && process.platform === 'linux';
const temp = makeTempDir('wardline-real-root-');
const root = join(temp.path, 'root');
const pkgName = `wardline-0.1.0-linux-${process.arch}-node${process.versions.node.split('.')[0]}`;

/** A shell script run in new mount and PID namespaces with the root's mounts in place; `$R` is the root. */
function inRoot(script: string, options: { network?: boolean; pidNamespace?: boolean } = {}): string[] {
  const mounts = [
    'set -e',
    `R=${root}`,
    'mount --bind /usr "$R/usr"',
    'mount -o remount,bind,ro "$R/usr"',
    // /usr/local is the root's own: the launcher goes to its usr/local/bin, not the host's.
    'mount --bind "$R/.usr-local" "$R/usr/local"',
    'mount --bind /dev "$R/dev"',
    'mount -t proc proc "$R/proc"',
    ...(options.network === false ? ['ip link set lo up'] : []),
    script,
  ].join('\n');
  // Without a PID namespace the script's last `exec` makes the spawned process the agent itself, so a signal reaches it.
  const pid = options.pidNamespace === false ? [] : ['--pid', '--fork', '--kill-child'];
  return ['unshare', '--mount', ...pid, ...(options.network === false ? ['--net'] : []), 'sh', '-c', mounts];
}

async function runInRoot(script: string, options: { network?: boolean; env?: Record<string, string> } = {}): Promise<{ code: number; out: string }> {
  const [cmd, ...args] = inRoot(script, options);
  try {
    const { stdout, stderr } = await exec(cmd!, args, { timeout: 180_000, env: { ...process.env, ...options.env }, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function makeRoot(): void {
  for (const dir of ['usr', '.usr-local/bin', 'dev', 'proc', 'tmp', 'run', 'var', 'opt']) mkdirSync(join(root, dir), { recursive: true });
  // usr-merged hosts have /bin -> usr/bin: the same links; otherwise the directories are bound too.
  for (const top of ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32']) {
    if (!existsSync(`/${top}`)) continue;
    if (lstatSync(`/${top}`).isSymbolicLink()) symlinkSync(readlinkSync(`/${top}`), join(root, top));
    else throw new Error(`/${top} is a directory, not a link into /usr: extend makeRoot to bind it`);
  }
  cpSync('/etc', join(root, 'etc'), { recursive: true, verbatimSymlinks: true, filter: (src) => !src.startsWith('/etc/systemd/system/') });
  for (const file of ['passwd', 'group', 'shadow', 'gshadow']) {
    const path = join(root, 'etc', file);
    if (existsSync(path)) writeFileSync(path, readFileSync(path, 'utf8').split('\n').filter((l) => !l.startsWith('wardline:')).join('\n'));
  }
  mkdirSync(join(root, 'usr/local'), { recursive: true }); // the mount point inside the bound /usr exists on the host
}

const hostPasswd = readFileSync('/etc/passwd', 'utf8');
let service: ChildProcess | undefined;

beforeAll(async () => {
  if (!canRun) return;
  makeRoot();
  // The offline package, as `npm run package` builds it (dist/ is built by the test run).
  await exec(process.execPath, [join(repo, 'scripts/package.mjs')], { cwd: repo, timeout: 300_000 });
  execFileSync('tar', ['-xzf', join(repo, 'release', `${pkgName}.tar.gz`), '-C', join(root, 'tmp')]);
}, 320_000);

afterAll(async () => {
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    await new Promise((r) => service!.once('exit', r));
  }
  temp.remove();
});

function unitValue(unit: string, key: string): string {
  const line = unit.split('\n').find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`the unit has no ${key}=`);
  return line.slice(key.length + 1);
}

describe.skipIf(!canRun)('wardline install on a real root (chroot, no network, no registry)', () => {
  it('creates the user, copies the program, upgrades, runs from the installed copy with the package deleted, and uninstalls', async () => {
    const [httpPort, mllpPort, relayPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(join(root, 'tmp/relay-secret'), 'a-shared-secret-of-enough-length\n');
    writeFileSync(
      join(root, 'tmp/answers.yaml'),
      `hospital: { id: h1, name: "Real Root Hospital" }
relay: { address: "127.0.0.1:${relayPort}", secretFile: /tmp/relay-secret, allowPlaintext: true }
sources: [{ name: lis, listen: "127.0.0.1:${mllpPort}" }]
http: { listen: "127.0.0.1:${httpPort}", tls: "off" }
feeds: [{ name: clinical, streams: [adt] }]
volume: { dailyBytes: 1MiB, retentionDays: 1 }
`,
    );
    const installCmd = `chroot "$R" ${process.execPath} /tmp/${pkgName}/dist/cli/wardline.js install --non-interactive --answers /tmp/answers.yaml --skip-relay-check`;
    const offline = { network: false, env: { npm_config_registry: 'http://127.0.0.1:9', npm_config_offline: 'true' } };

    // No systemd here: refused before anything is written, saying what to do.
    const refused = await runInRoot(installCmd, offline);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toMatch(/FAIL\s+systemd\s+systemd is not running.*--no-systemctl/);
    expect(existsSync(join(root, 'etc/wardline'))).toBe(false);

    const first = await runInRoot(`${installCmd} --no-systemctl`, offline);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain('run: useradd --system');
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).toMatch(/^wardline:x:\d+:\d+:/m);
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(hostPasswd);
    const program = join(root, 'opt/wardline');
    expect(readlinkSync(join(program, 'current'))).toBe('0.1.0');
    expect(existsSync(join(program, '0.1.0/node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
    expect(existsSync(join(program, '0.1.0/node_modules/vitest'))).toBe(false);
    const unit = readFileSync(join(root, 'etc/systemd/system/wardline-agent.service'), 'utf8');
    expect(unitValue(unit, 'ExecStart')).toBe(`${process.execPath} /opt/wardline/current/dist/cli/wardline.js agent start --config /etc/wardline/agent.yaml`);
    expect(unitValue(unit, 'ExecStartPre')).toContain('agent check-config --config /etc/wardline/agent.yaml');
    expect(unitValue(unit, 'RestartPreventExitStatus')).toBe('78');
    expect(readFileSync(join(root, 'etc/wardline/agent.yaml'), 'utf8')).toContain('dataDir: "/var/lib/wardline"');

    // The same command again is an upgrade: the user exists, everything is kept, the program is switched again.
    const again = await runInRoot(`${installCmd} --no-systemctl`, offline);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('keep the service user wardline (it exists)');
    expect(again.out).toContain('Upgraded in place');
    expect(readdirSync(program).sort()).toEqual(['0.1.0', 'current', 'install.json']);

    // The package it was installed from is gone; the service runs from /opt/wardline/current as the unit says.
    rmSync(join(root, 'tmp', pkgName), { recursive: true });
    const user = unitValue(unit, 'User');
    const [, , uid, gid] = readFileSync(join(root, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${user}:`))!.split(':');
    const asService = (command: string) => `chroot --userspec=${uid}:${gid} "$R" ${command}`;
    const pre = await runInRoot(asService(unitValue(unit, 'ExecStartPre')));
    expect(pre.code, pre.out).toBe(0);
    expect(pre.out).toContain('/etc/wardline/agent.yaml: OK');

    const [cmd, ...args] = inRoot(`exec ${asService(unitValue(unit, 'ExecStart'))}`, { pidNamespace: false });
    service = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    service.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    service.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 60_000;
    let healthy = false;
    while (Date.now() < deadline && !healthy && service.exitCode === null) {
      healthy = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
      if (!healthy) await new Promise((r) => setTimeout(r, 300));
    }
    expect(healthy, output).toBe(true);

    // README's next step as written: the launcher names the agent's address and reads the admin token (exit 1: the relay is down).
    const status = await runInRoot(`chroot "$R" /usr/local/bin/wardline agent status --json`);
    expect(status.out).not.toContain('requires a login');
    expect(JSON.parse(status.out.slice(status.out.indexOf('{'))), status.out).toHaveProperty('check');

    service.kill('SIGTERM');
    await new Promise((r) => service!.once('exit', r));

    const gone = await runInRoot(`cp -r "$R/opt/wardline/current/." "$R/tmp/cli" && chroot "$R" ${process.execPath} /tmp/cli/dist/cli/wardline.js uninstall --no-systemctl`);
    expect(gone.code, gone.out).toBe(0);
    expect(existsSync(join(root, 'etc/systemd/system/wardline-agent.service'))).toBe(false);
    expect(existsSync(program)).toBe(false);
    expect(existsSync(join(root, 'var/lib/wardline/agent.db'))).toBe(true);
    const purged = await runInRoot(`chroot "$R" ${process.execPath} /tmp/cli/dist/cli/wardline.js uninstall --no-systemctl --purge`);
    expect(purged.code, purged.out).toBe(0);
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).not.toMatch(/^wardline:/m);
    expect(existsSync(join(root, 'var/lib/wardline'))).toBe(false);
  }, 400_000);
});
