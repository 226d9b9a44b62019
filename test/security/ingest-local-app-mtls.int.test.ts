// Mutual TLS as a local application's identity: when the agent's HTTP listener is
// HTTPS and asks for client certificates, a certificate that TLS verified and
// whose SHA-256 fingerprint is a client's certificateSha256 counts as that client,
// with its streams. Shown here on a real TLS listener in front of LocalAppAuth,
// with certificates made by `wardline cert`'s code; an unverified certificate (from
// another CA) or none is no identity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LocalAppAuth } from '../../agent/sources/http-ingest/local-app-auth.js';
import { normaliseFingerprint } from '../../agent/sources/http-ingest/local-app-config.js';
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate, type IssuedCertificate } from '../../cloud-relay/index.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitForHttps } from '../support/web-attack.js';
import { WardlineProcess } from '../support/wardline-process.js';

/** A CA with a server certificate for 127.0.0.1 and a client certificate named `client`, and a stranger's CA issuing the same name. */
async function issueCertificates(dir: string, client: string): Promise<{ server: IssuedCertificate; client: IssuedCertificate; stranger: IssuedCertificate }> {
  const at = (name: string): string => join(dir, name);
  await Promise.all([createCertificateAuthority(at('ca')), createCertificateAuthority(at('other-ca'), { commonName: 'Someone else CA' })]);
  const [server, issued, stranger] = await Promise.all([
    issueServerCertificate(at('ca'), at('server'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
    issueClientCertificate(at('ca'), at('client'), client),
    issueClientCertificate(at('other-ca'), at('stranger'), client),
  ]);
  return { server, client: issued, stranger };
}

describe('a local application identified by its client certificate', () => {
  const dir = makeTempDir('wardline-apps-mtls-');
  let server: Server;
  let port: number;
  let pacs: IssuedCertificate;
  let stranger: IssuedCertificate;
  let caFile: string;

  beforeAll(async () => {
    const { server: serverCert, client: pacsCert, stranger: strangerCert } = await issueCertificates(dir.path, 'pacs-viewer');
    pacs = pacsCert;
    stranger = strangerCert;
    caFile = serverCert.caFile;
    const auth = new LocalAppAuth({
      clients: [{ name: 'pacs-viewer', tokenDigest: null, certificateSha256: normaliseFingerprint(pacs.fingerprint256), read: new Set(['results']), write: new Set() }],
      anonymous: 'none',
      anonymousExplicit: false,
    });
    server = createServer(
      { cert: readFileSync(serverCert.certFile), key: readFileSync(serverCert.keyFile), ca: readFileSync(caFile), requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const [stream, access] = (req.url ?? '').slice(1).split('/') as [string, 'read' | 'write'];
        res.end(JSON.stringify(auth.authorize(req, stream, access)));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    dir.remove();
  });

  const ask = (path: string, cert?: IssuedCertificate): Promise<{ ok: boolean; client?: string; status?: number }> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path, ca: readFileSync(caFile), ...(cert ? { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) } : {}) },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text) as never));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('is that client, with its streams only', async () => {
    expect(await ask('/results/read', pacs)).toEqual({ ok: true, client: 'pacs-viewer' });
    expect(await ask('/results/write', pacs)).toMatchObject({ ok: false, status: 403 });
  });

  it('is nobody without a certificate, or with one TLS did not verify', async () => {
    expect(await ask('/results/read')).toMatchObject({ ok: false, status: 401 });
    expect(await ask('/results/read', stranger)).toMatchObject({ ok: false, status: 401 });
  });
});

describe('an agent whose HTTPS listener asks for client certificates (http.tls.clientCaFile)', () => {
  const dir = makeTempDir('wardline-apps-mtls-agent-');
  let agent: WardlineProcess;
  let port: number;
  let ca: Buffer;
  let viewer: IssuedCertificate;
  let stranger: IssuedCertificate;

  beforeAll(async () => {
    const at = (name: string): string => join(dir.path, name);
    const { server: serverCert, client: viewerCert, stranger: strangerCert } = await issueCertificates(dir.path, 'results-viewer');
    viewer = viewerCert;
    stranger = strangerCert;
    ca = readFileSync(serverCert.caFile);
    port = await freePort();
    writeFileSync(
      at('agent.yaml'),
      `hospital: { id: mtls-hospital }
dataDir: ./data
http:
  listen: "127.0.0.1:${port}"
  tls: { certFile: ${serverCert.certFile}, keyFile: ${serverCert.keyFile}, clientCaFile: ${serverCert.caFile} }
  clients: [{ name: results-viewer, certificateSha256: "${viewer.fingerprint256}", read: [results], write: [results] }]
sources: []
log: { level: warn }
`,
    );
    agent = new WardlineProcess(['agent', 'start', '--config', at('agent.yaml')], at('agent.log'));
    await waitForHttps(`https://127.0.0.1:${port}/healthz`, ca).catch((error: Error) => {
      throw new Error(`${error.message}\n${agent.recentOutput}`);
    });
  }, 60_000);
  afterAll(async () => {
    await agent?.kill('SIGTERM');
    dir.remove();
  });

  const call = (method: string, path: string, cert?: IssuedCertificate, body?: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method,
          ca,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(cert ? { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) } : {}),
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  it('ingests and reads for the application its certificate names, and for no one else', async () => {
    expect(await call('POST', '/v1/ingest/results', viewer, JSON.stringify({ key: 'r1', value: 4.2 }))).toBe(200);
    expect(await call('GET', '/v1/records/results/r1', viewer)).toBe(200);
    expect(await call('GET', '/v1/records/adt/r1', viewer)).toBe(403);
    // Loopback without a certificate is no identity once clients are configured.
    expect(await call('GET', '/v1/records/results/r1')).toBe(401);
    expect(await call('GET', '/v1/records/results/r1', stranger)).toBe(401);
    // The listener does not demand a certificate: health (and the dashboard) answer without one.
    expect(await call('GET', '/healthz')).toBe(200);
  });
});
