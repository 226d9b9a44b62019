// One-time enrolment tokens at the relay: hashed at rest, used once, expiring,
// and not burned by a bad CSR; and the installer's enrolment client against a real relay.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServerCertificate, startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { SqliteEnrolmentTokens } from '../../cloud-relay/enrolment/index.js';
import { enrolWithRelay } from '../../installer/enrolment-client.js';
import { makeTempDir } from '../support/temp-dir.js';

const temp = makeTempDir('wardline-enrol-');
const at = (...p: string[]) => join(temp.path, ...p);
let relay: RelayHandle;
let tokens: SqliteEnrolmentTokens;

beforeAll(async () => {
  await createCertificateAuthority(at('ca'));
  await issueServerCertificate(at('ca'), at('tls'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  mkdirSync(at('data'));
  writeFileSync(
    at('relay.yaml'),
    `dataDir: ./data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
tls: { certFile: ./tls/server.crt, keyFile: ./tls/server.key, clientCaFile: ./ca/ca.crt }
enrolment: { caDir: ./ca }
hospitals: [{ id: h1 }, { id: h2 }]
log: { level: silent }
`,
  );
  relay = await startRelay(at('relay.yaml'), { logger: pino({ level: 'silent' }), shutdownGraceMs: 500 });
  tokens = SqliteEnrolmentTokens.open(at('data/relay.db'));
}, 60_000);

afterAll(async () => {
  await tokens?.close();
  await relay?.stop();
  temp.remove();
});

function postEnrol(body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`https://127.0.0.1:${relay.httpPort}/v1/enrol`, { method: 'POST', ca: caPem(), headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
const caPem = () => readFileSync(at('ca/ca.crt'), 'utf8');
const enrol = (token: string, hospitalId = 'h1') => enrolWithRelay({ url: `https://127.0.0.1:${relay.httpPort}`, token, caPem: caPem(), hospitalId });

describe('enrolment', () => {
  it('signs a client certificate for the token\'s hospital, once', async () => {
    const { token } = await tokens.issue('h1');
    const result = await enrol(token);
    const cert = new X509Certificate(result.certPem);
    expect(cert.subjectAltName).toContain('URI:urn:wardline:hospital:h1');
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(result.keyPem))).toBe(true);
    await expect(enrol(token)).rejects.toThrow(/403.*already used/);
  });
  it('stores only the hash of a token', async () => {
    const { token } = await tokens.issue('h2');
    const db = new Database(at('data/relay.db'), { readonly: true });
    const rows = db.prepare('SELECT * FROM enrolment_tokens').all();
    db.close();
    expect(JSON.stringify(rows)).not.toContain(token.slice(8));
  });
  it('refuses unknown and expired tokens, and a token for another hospital', async () => {
    await expect(enrol('wlenrol_nope-nope-nope')).rejects.toThrow(/403.*not recognised/);
    const expired = SqliteEnrolmentTokens.open(at('data/relay.db'), () => Date.now() - 2 * 86_400_000);
    const { token } = await expired.issue('h1', 1000);
    await expired.close();
    await expect(enrol(token)).rejects.toThrow(/403.*expired/);
    await expect(enrol((await tokens.issue('h2')).token, 'h1')).rejects.toThrow(/for hospital "h2"/);
  });
  it('does not burn the token on a bad CSR', async () => {
    const { token } = await tokens.issue('h1');
    const bad = await postEnrol({ token, csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' });
    expect(bad.status).toBe(400);
    await expect(enrol(token)).resolves.toMatchObject({ hospital: 'h1' });
  });
});
