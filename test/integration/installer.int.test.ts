// The installer end to end: a real relay with TLS and mutual TLS, a one-time
// enrolment token from `wardline relay enrol-token`, `wardline install` into a
// temporary root, the installed agent started from that layout, HL7 replicated,
// then an upgrade in place and an uninstall, checking what remains.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate, startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH, WardlineProcess } from '../support/wardline-process.js';
import { rawRequest, waitForHttps } from '../support/web-attack.js';

const exec = promisify(execFile);
const temp = makeTempDir('wardline-installer-');
const at = (...p: string[]) => join(temp.path, ...p);
const cli = (...args: string[]) => exec(process.execPath, [CLI_PATH, ...args], { timeout: 60_000 });
let relay: RelayHandle;

beforeAll(async () => {
  await createCertificateAuthority(at('ca'));
  await issueServerCertificate(at('ca'), at('relay-tls'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  mkdirSync(at('relay'));
  writeFileSync(
    at('relay/relay.yaml'),
    `dataDir: ./data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
tls: { certFile: ${at('relay-tls/server.crt')}, keyFile: ${at('relay-tls/server.key')}, clientCaFile: ${at('ca/ca.crt')} }
enrolment: { caDir: ${at('ca')} }
hospitals: [{ id: h1 }]
vendors: [{ name: vendor, key: "installer-vendor-key-0001", grants: [{ hospital: h1, feeds: [clinical] }] }]
log: { level: silent }
`,
  );
  mkdirSync(at('relay/data'));
  relay = await startRelay(at('relay/relay.yaml'), { logger: pino({ level: 'silent' }), shutdownGraceMs: 1000 });
}, 60_000);

afterAll(async () => {
  await relay?.stop();
  temp.remove();
});

async function sendHl7(port: number, controlId: string): Promise<string> {
  const msg = `MSH|^~\\&|HIS|H1|WARDLINE|H1|20260101120000||ADT^A01|${controlId}|P|2.5\rPID|1||MRN${controlId}^^^H1^MR||DOE^JOHN\r`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(msg), Buffer.from([0x1c, 0x0d])])));
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\x1c')) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', reject);
  });
}

/**
 * The installed agent.yaml names /etc/wardline and /var/lib/wardline as the
 * installed system sees them; to run it from the prefix here, a copy with the
 * prefix put in front (what a chroot would do; installer-real-root.int.test.ts runs one).
 */
function seenFromPrefix(root: string): string {
  const file = join(root, 'etc/wardline/agent.seen-from-prefix.yaml');
  const text = readFileSync(join(root, 'etc/wardline/agent.yaml'), 'utf8').replaceAll('"/etc/wardline/', `"${root}/etc/wardline/`).replaceAll('"/var/lib/wardline"', `"${root}/var/lib/wardline"`);
  writeFileSync(file, text);
  return file;
}

describe('wardline install into a temporary root', () => {
  it('enrols, installs, runs, replicates, upgrades and uninstalls', async () => {
    const { stdout: token } = await cli('relay', 'enrol-token', '--config', at('relay/relay.yaml'), '--hospital', 'h1', '--ttl', '1h');
    expect(token.trim()).toMatch(/^wlenrol_/);
    const [mllpPort, httpPort] = [await freePort(), await freePort()];
    const root = at('root');
    writeFileSync(
      at('answers.yaml'),
      `hospital: { id: h1, name: "First People's Hospital" }
relay:
  address: "127.0.0.1:${relay.grpcPort}"
  enrol: { url: "https://127.0.0.1:${relay.httpPort}", token: "${token.trim()}", caFile: ${at('ca/ca.crt')} }
sources: [{ name: lis, listen: "127.0.0.1:${mllpPort}" }]
http: { listen: "127.0.0.1:${httpPort}" }
feeds: [{ name: clinical, streams: [adt] }]
volume: { dailyBytes: 1MiB, retentionDays: 7 }
logLevel: info
`,
    );
    // --dry-run writes nothing.
    const dry = await cli('install', '--root', root, '--non-interactive', '--answers', at('answers.yaml'), '--dry-run');
    expect(dry.stdout).toContain('Dry run: nothing written');
    expect(existsSync(root)).toBe(false);

    // The prefix's etc/ and var/ exist (as in an image build): their modes stay as they were.
    mkdirSync(join(root, 'etc'), { recursive: true, mode: 0o755 });
    mkdirSync(join(root, 'var'), { mode: 0o755 });
    const first = await cli('install', '--root', root, '--non-interactive', '--answers', at('answers.yaml'));
    expect(first.stdout).toContain('would run on a real root: useradd --system');
    for (const dir of ['etc', 'var', 'opt']) expect(statSync(join(root, dir)).mode & 0o777, dir).toBe(0o755);
    const etc = join(root, 'etc/wardline');
    // Relocatable: the config and the launcher name the paths the installed system sees, never the prefix.
    const written = readFileSync(join(etc, 'agent.yaml'), 'utf8');
    expect(written).not.toContain(root);
    expect(written).toContain('dataDir: "/var/lib/wardline"');
    // No policy in the answers: the proposed one is written, and the preflight says so instead of warning.
    expect(written).toMatch(/^ {12}PID-3: hash /m);
    expect(first.stdout).toContain('proposed policy: identifiers in adt');
    expect(readFileSync(join(root, 'usr/local/bin/wardline'), 'utf8')).not.toContain(root);
    expect(readFileSync(join(root, 'usr/local/bin/wardline'), 'utf8')).toContain('exec ' + process.execPath + ' /opt/wardline/current/dist/cli/wardline.js "$@"');
    for (const secret of ['secrets/client.key', 'keys/keyring.json']) expect(statSync(join(etc, secret)).mode & 0o077).toBe(0);
    expect(readFileSync(join(root, 'etc/systemd/system/wardline-agent.service'), 'utf8')).toContain('ProtectSystem=strict');

    const agent = new WardlineProcess(['agent', 'start', '--config', seenFromPrefix(root)]);
    try {
      // The installer turned HTTPS on, with a certificate from a CA of the agent's own.
      expect(readFileSync(join(etc, 'agent.yaml'), 'utf8')).toMatch(/^ {2}tls: \{ certFile: "\/etc\/wardline\/tls\/dashboard\/server\.crt", keyFile: "\/etc\/wardline\/tls\/dashboard\/server\.key" \}$/m);
      expect(statSync(join(etc, 'tls/dashboard/server.key')).mode & 0o077).toBe(0);
      await waitForHttps(`https://127.0.0.1:${httpPort}/healthz`, readFileSync(join(etc, 'tls/dashboard-ca/ca.crt'))).catch((error: Error) => {
        throw new Error(`${error.message}\n${agent.recentOutput}`);
      });
      await expect(rawRequest(`http://127.0.0.1:${httpPort}/healthz`, { timeoutMs: 5_000 }).then((a) => a.status)).rejects.toThrow();
      for (let i = 1; i <= 3; i++) expect(await sendHl7(mllpPort, `MSG${i}`)).toContain('MSA|AA');
      const deadline = Date.now() + 20_000;
      let events = 0;
      while (Date.now() < deadline && events < 3) {
        events = (await relay.status()).hospitals.find((h) => h.id === 'h1')?.feeds.find((f) => f.feed === 'clinical')?.events ?? 0;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(events, agent.recentOutput).toBe(3);

      // README's next step, exactly as written: `wardline agent status`, no --url. The launcher
      // names the installed agent's address, its CA and token; here with those as the launcher sets them.
      const launcher = readFileSync(join(root, 'usr/local/bin/wardline'), 'utf8');
      expect(launcher).toContain(`WARDLINE_AGENT_URL=https://127.0.0.1:${httpPort}; export WARDLINE_AGENT_URL`);
      expect(first.stdout).toContain(`Check it: wardline agent status `);
      const status = await exec(process.execPath, [CLI_PATH, 'agent', 'status', '--json'], {
        timeout: 60_000,
        env: {
          ...process.env,
          WARDLINE_AGENT_URL: /WARDLINE_AGENT_URL=(\S+);/.exec(launcher)![1],
          NODE_EXTRA_CA_CERTS: join(etc, 'tls/dashboard-ca/ca.crt'),
          WARDLINE_ADMIN_TOKEN: readFileSync(join(etc, 'secrets/admin-token'), 'utf8').trim(),
        },
      }).catch((error: { stdout?: string; stderr?: string }) => error);
      expect(status.stderr ?? '', agent.recentOutput).toBe('');
      expect((JSON.parse(status.stdout ?? '{}') as { feeds?: { name?: string; feed?: string }[] }).feeds?.length).toBe(1);
    } finally {
      await agent.kill('SIGTERM');
    }

    // Upgrade in place: the used token is not needed again; config, certificate and data are kept.
    const configBefore = readFileSync(join(etc, 'agent.yaml'), 'utf8');
    const certBefore = readFileSync(join(etc, 'tls/client.crt'), 'utf8');
    const upgrade = await cli('install', '--root', root, '--non-interactive', '--answers', at('answers.yaml'));
    expect(upgrade.stdout).toContain('Upgraded in place');
    expect(readFileSync(join(etc, 'agent.yaml'), 'utf8')).toBe(configBefore);
    expect(readFileSync(join(etc, 'tls/client.crt'), 'utf8')).toBe(certBefore);
    expect(existsSync(join(root, 'var/lib/wardline/agent.db'))).toBe(true);

    const gone = await cli('uninstall', '--root', root);
    expect(gone.stdout).toContain('Kept (remove with --purge)');
    expect(existsSync(join(root, 'etc/systemd/system/wardline-agent.service'))).toBe(false);
    expect(existsSync(join(root, 'opt/wardline'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/wardline/agent.db'))).toBe(true);
    expect(existsSync(join(etc, 'agent.yaml'))).toBe(true);

    await cli('uninstall', '--root', root, '--purge');
    expect(existsSync(join(root, 'var/lib/wardline'))).toBe(false);
    expect(existsSync(etc)).toBe(false);
  }, 120_000);

  it('imports certificates from the hospital\'s own CA and stores only the dashboard password hash', async () => {
    await issueClientCertificate(at('ca'), at('h1-own'), 'h1');
    writeFileSync(at('admin-password'), 'correct horse battery staple\n', { mode: 0o600 });
    const root = at('root-import');
    writeFileSync(
      at('answers-import.yaml'),
      `hospital: { id: h1 }
relay:
  address: "127.0.0.1:${relay.grpcPort}"
  import: { certFile: ${at('h1-own/client.crt')}, keyFile: ${at('h1-own/client.key')}, caFile: ${at('h1-own/ca.crt')} }
http: { listen: "127.0.0.1:${await freePort()}" }
feeds: [{ name: clinical, streams: [adt] }]
admin: { passwordFile: ${at('admin-password')} }
`,
    );
    await cli('install', '--root', root, '--non-interactive', '--answers', at('answers-import.yaml'), '--skip-relay-check');
    const etc = join(root, 'etc/wardline');
    expect(readFileSync(join(etc, 'tls/client.crt'), 'utf8')).toBe(readFileSync(at('h1-own/client.crt'), 'utf8'));
    const hash = join(etc, 'secrets/admin-password.hash');
    expect(statSync(hash).mode & 0o777).toBe(0o600);
    expect(readFileSync(hash, 'utf8')).not.toContain('horse');
    const keyring = JSON.parse(readFileSync(join(etc, 'keys/keyring.json'), 'utf8')) as { keys: { kind: string; retiredAt: string | null }[] };
    expect(keyring.keys.filter((k) => k.retiredAt === null).map((k) => k.kind).sort()).toEqual(['encryption', 'pseudonym']);
    // The written config loads with the agent's own loader (files read, password hash parsed).
    const { loadAgentConfig } = await import('../../agent/config.js');
    expect(loadAgentConfig(seenFromPrefix(root)).adminCredentials).not.toBeNull();
  }, 60_000);
});
