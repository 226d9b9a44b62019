// The development CA and `wardline cert`, with the real openssl command: files
// and modes, names and uses of what is issued, and the CSR signing that agent
// enrolment will use.
import { X509Certificate } from 'node:crypto';
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateAuthorityError,
  CertificateNameError,
  CsrRejectedError,
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  signClientCsr,
} from '../../cloud-relay/tls/index.js';
import { OpenSslMissingError, createCertificateRequest, generatePrivateKeyPem } from '../../runtime/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH } from '../support/wardline-process.js';

const temp = makeTempDir('wardline-ca-');
const caDir = join(temp.path, 'ca');
const mode = (file: string) => statSync(file).mode & 0o777;
const certificateIn = (file: string) => new X509Certificate(readFileSync(file));
const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(async () => {
  await createCertificateAuthority(caDir);
});
afterAll(() => temp.remove());

describe('development CA', () => {
  it('writes ca.crt and a 0600 ca.key, a CA for end-entity certificates only, valid ten years', () => {
    expect(mode(join(caDir, 'ca.key'))).toBe(0o600);
    const ca = certificateIn(join(caDir, 'ca.crt'));
    expect(ca.ca).toBe(true);
    expect(ca.subject).toContain('CN=Wardline development CA');
    const years = (Date.parse(ca.validTo) - Date.now()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(9.9);
    expect(openssl('x509', '-in', join(caDir, 'ca.crt'), '-noout', '-ext', 'basicConstraints')).toMatch(/CA:TRUE, pathlen:0/);
  });

  it('refuses to replace an existing CA unless forced', async () => {
    await expect(createCertificateAuthority(caDir)).rejects.toThrow(CertificateAuthorityError);
    await expect(createCertificateAuthority(caDir)).rejects.toThrow(/ca\.key already exists; pass --force to replace it/);
  });

  it('issues a server certificate for the names and addresses clients dial, serverAuth only', async () => {
    const issued = await issueServerCertificate(caDir, join(temp.path, 'relay'), { dnsNames: ['relay.example', 'localhost'], ipAddresses: ['127.0.0.1', '::1'] });
    expect(mode(issued.keyFile)).toBe(0o600);
    expect(readFileSync(issued.caFile)).toEqual(readFileSync(join(caDir, 'ca.crt')));
    const cert = certificateIn(issued.certFile);
    expect(cert.subjectAltName).toBe('DNS:relay.example, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.checkIssued(certificateIn(join(caDir, 'ca.crt')))).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(824);
    expect(days).toBeLessThanOrEqual(825);
    expect(openssl('verify', '-CAfile', join(caDir, 'ca.crt'), '-purpose', 'sslserver', issued.certFile)).toContain('OK');
  });

  it('issues a client certificate naming the hospital in a URN and the CN, clientAuth only', async () => {
    const issued = await issueClientCertificate(caDir, join(temp.path, 'h1'), 'h1', { days: 30 });
    expect(mode(issued.keyFile)).toBe(0o600);
    const cert = certificateIn(issued.certFile);
    expect(cert.subjectAltName).toBe('URI:urn:wardline:hospital:h1');
    expect(cert.subject).toContain('CN=h1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(Math.round((Date.parse(cert.validTo) - Date.now()) / 86_400_000)).toBe(30);
    expect(openssl('verify', '-CAfile', join(caDir, 'ca.crt'), '-purpose', 'sslclient', issued.certFile)).toContain('OK');
    await expect(issueClientCertificate(caDir, join(temp.path, 'h1'), 'h1')).rejects.toThrow(/client\.key already exists/);
    await issueClientCertificate(caDir, join(temp.path, 'h1'), 'h1', { force: true });
    expect(certificateIn(issued.certFile).serialNumber).not.toBe(cert.serialNumber);
  });

  it('refuses names that are not DNS names, IP addresses or hospital ids', async () => {
    await expect(issueServerCertificate(caDir, join(temp.path, 'bad'), { dnsNames: ['relay example'], ipAddresses: [] })).rejects.toThrow(CertificateNameError);
    await expect(issueServerCertificate(caDir, join(temp.path, 'bad'), { dnsNames: [], ipAddresses: ['300.1.1.1'] })).rejects.toThrow(/--ip "300.1.1.1": expected an IPv4 or IPv6 address/);
    await expect(issueServerCertificate(caDir, join(temp.path, 'bad'), { dnsNames: [], ipAddresses: [] })).rejects.toThrow(/at least one --name/);
    await expect(issueClientCertificate(caDir, join(temp.path, 'bad'), 'h1/../h2')).rejects.toThrow(/hospital id "h1\/..\/h2": expected 1-128 letters/);
  });

  it('says where the CA is missing', async () => {
    await expect(issueClientCertificate(join(temp.path, 'no-ca'), join(temp.path, 'x'), 'h1')).rejects.toThrow(
      new RegExp(`no CA in ${join(temp.path, 'no-ca')}: .*ca\\.crt is missing \\(create one with \`wardline cert ca --out`),
    );
  });
});

describe('signClientCsr', () => {
  it('takes only the public key from a CSR: the names and uses are the issuer’s', async () => {
    const key = await generatePrivateKeyPem();
    // A CSR asking for another hospital's URI, a server name and a CA bit.
    const dir = join(temp.path, 'greedy');
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
    const csr = openssl(
      'req', '-new', '-key', join(dir, 'key.pem'), '-subj', '/CN=h2',
      '-addext', 'subjectAltName=URI:urn:wardline:hospital:h2,DNS:relay.example',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'extendedKeyUsage=serverAuth',
    );
    const cert = new X509Certificate(await signClientCsr(caDir, csr, 'h1'));
    expect(cert.subject).toContain('CN=h1');
    expect(cert.subjectAltName).toBe('URI:urn:wardline:hospital:h1');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.publicKey.export({ format: 'pem', type: 'spki' })).toBe(
      new X509Certificate(await signClientCsr(caDir, await createCertificateRequest(key, 'x'), 'h1')).publicKey.export({ format: 'pem', type: 'spki' }),
    );
  });

  it('refuses a CSR that is not one, one whose signature does not verify, and a weak key', async () => {
    await expect(signClientCsr(caDir, 'hello', 'h1')).rejects.toThrow(CsrRejectedError);
    const csr = await createCertificateRequest(await generatePrivateKeyPem(), 'h1');
    // Flip a byte inside the base64 body near the end (the signature).
    const lines = csr.trimEnd().split('\n');
    const last = lines.length - 2;
    lines[last] = lines[last]!.replace(/[A-Za-z]/, (c) => (c === 'A' ? 'B' : 'A'));
    await expect(signClientCsr(caDir, `${lines.join('\n')}\n`, 'h1')).rejects.toThrow(/malformed or not signed by the key it carries/);

    const weakKey = openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024');
    await expect(signClientCsr(caDir, await createCertificateRequest(weakKey, 'h1'), 'h1')).rejects.toThrow(
      /the request's key \(RSA 1024 bits\) is too weak or of an unsupported kind/,
    );
  });

  it('says how to get openssl when it is missing', async () => {
    const error = await signClientCsr(caDir, await createCertificateRequest(await generatePrivateKeyPem(), 'h1'), 'h1', { command: '/nonexistent/openssl' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenSslMissingError);
    expect((error as Error).message).toMatch(/^cannot run "\/nonexistent\/openssl": the openssl command is needed .*install OpenSSL/);
  });
});

describe('wardline cert (the command)', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI_PATH, 'cert', ...args], { encoding: 'utf8' });

  it('issues a CA, a server and a client certificate and prints the config that uses them', () => {
    const root = join(temp.path, 'cli');
    const ca = cli('ca', '--out', join(root, 'ca'));
    expect(ca.status, ca.stderr).toBe(0);
    expect(ca.stdout).toContain('wardline cert server --ca');

    const server = cli('server', '--ca', join(root, 'ca'), '--name', 'relay.example', '--ip', '127.0.0.1', '--out', join(root, 'relay'));
    expect(server.status, server.stderr).toBe(0);
    expect(server.stdout).toContain(`certFile: ${join(root, 'relay', 'server.crt')}`);
    expect(server.stdout).toContain('DNS:relay.example, IP Address:127.0.0.1');

    const client = cli('client', '--ca', join(root, 'ca'), '--hospital', 'demo-hospital', '--out', join(root, 'demo-hospital'));
    expect(client.status, client.stderr).toBe(0);
    expect(client.stdout).toContain(`keyFile: ${join(root, 'demo-hospital', 'client.key')}`);
    expect(mode(join(root, 'demo-hospital', 'client.key'))).toBe(0o600);
  });

  it('exits with a clear message for a bad name, an existing key and a missing openssl', () => {
    const root = join(temp.path, 'cli');
    const badName = cli('client', '--ca', join(root, 'ca'), '--hospital', 'bad id', '--out', join(root, 'bad'));
    expect(badName.status).toBe(64);
    expect(badName.stderr).toMatch(/^wardline cert: hospital id "bad id": expected/);
    const exists = cli('ca', '--out', join(root, 'ca'));
    expect(exists.status).toBe(1);
    expect(exists.stderr).toContain('already exists; pass --force');
    const noOpenssl = cli('ca', '--out', join(root, 'other'), '--openssl', '/nonexistent/openssl');
    expect(noOpenssl.status).toBe(69);
    expect(noOpenssl.stderr).toContain('install OpenSSL');
  });
});
