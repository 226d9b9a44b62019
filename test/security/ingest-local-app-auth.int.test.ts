// The data plane (GET /v1/records, POST /v1/ingest) needs credentials of its own.
// Before: with the dashboard behind a password, anyone on the LAN could read a
// patient's full ADT from /v1/records and overwrite it with /v1/ingest (which then
// replicated to the vendor). Now: an agent without http.clients answers these
// only to loopback peers (saying so at start); with clients, each token may read
// and write the streams listed for it, 401 for no or a wrong token, 403 for a
// stream it was not given.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MllpSender } from '../../simulator/mllp-sender.js';
import { lanAddress, postRows, startIngestAgent, type IngestAgent } from '../support/ingest-agent.js';
import { makeTempDir } from '../support/temp-dir.js';

const RESIDENT_ID = '110105199001011234';
const EMR_TOKEN = 'emr-bridge-token-0123456789';
const PORTAL_TOKEN = 'patient-portal-token-9876543210';
const lan = lanAddress();

const adt = (controlId: string): Buffer =>
  Buffer.from([`MSH|^~\\&|HIS|HOSP|WL|WL|20240101120000||ADT^A08|${controlId}|P|2.5`, `PID|1||${RESIDENT_ID}^^^H^MR||Zhang^San||19900101|M|||||13800138000`].join('\r') + '\r');

async function journalAdt(agent: IngestAgent): Promise<void> {
  const sender = new MllpSender({ host: '127.0.0.1', port: agent.mllpPort, ackTimeoutMs: 10_000, maxAttempts: 1 });
  try {
    expect((await sender.send(adt('AUTH-1'), 'AUTH-1')).code).toBe('AA');
  } finally {
    await sender.close();
  }
}

describe.skipIf(lan === undefined)('an agent without http.clients, listening on every interface', () => {
  const dir = makeTempDir('wardline-apps-open-');
  let agent: IngestAgent;
  let fromLan: string;

  beforeAll(async () => {
    agent = await startIngestAgent(dir.path, { listenHost: '0.0.0.0', http: ['admin: { token: "admin-token-0123456789abcdef" }'] });
    fromLan = `http://${lan}:${agent.port}`;
    await journalAdt(agent);
  });
  afterAll(async () => {
    await agent?.stop();
    dir.remove();
  });

  it('refuses records and ingest to a LAN peer without credentials, and says why', async () => {
    const read = await fetch(`${fromLan}/v1/records/adt/${RESIDENT_ID}`);
    expect(read.status).toBe(401);
    expect(read.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const text = await read.text();
    expect(text).not.toContain('Zhang');
    expect(JSON.parse(text).error.message).toMatch(/only loopback is served \(http\.anonymousApps\)/);

    const write = await postRows(fromLan, 'adt', { key: RESIDENT_ID, name: 'Mallory' });
    expect(write.status).toBe(401);
    // The patient's local copy is untouched.
    const local = (await (await fetch(`${agent.url}/v1/records/adt/${RESIDENT_ID}`)).json()) as { contentType: string; body: string };
    expect(local.contentType).toBe('hl7v2');
    expect(local.body).toContain('Zhang^San');
  });

  it('keeps serving loopback peers without credentials, and said so at start', async () => {
    expect((await fetch(`${agent.url}/v1/records/adt/${RESIDENT_ID}`)).status).toBe(200);
    expect((await postRows(agent.url, 'appointments', { key: 'APT-1' })).status).toBe(200);
    expect(agent.log()).toMatch(/no http\.clients configured: \/v1\/records and \/v1\/ingest answer loopback \(127\.0\.0\.1, ::1\) only/);
  });

  it('does not take the admin token for the data plane', async () => {
    expect((await fetch(`${fromLan}/v1/records/adt/${RESIDENT_ID}`, { headers: { authorization: 'Bearer admin-token-0123456789abcdef' } })).status).toBe(401);
  });
});

describe('an agent with http.clients', () => {
  const dir = makeTempDir('wardline-apps-clients-');
  let agent: IngestAgent;
  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    writeFileSync(join(dir.path, 'emr.token'), `${EMR_TOKEN}\n`, { mode: 0o600 });
    const portalDigest = createHash('sha256').update(PORTAL_TOKEN).digest('hex');
    agent = await startIngestAgent(dir.path, {
      listenHost: lan === undefined ? '127.0.0.1' : '0.0.0.0',
      http: [
        'clients:',
        '  - { name: emr-bridge, tokenFile: emr.token, read: [adt, appointments], write: [appointments] }',
        `  - { name: patient-portal, tokenSha256: "${portalDigest}", read: [], write: ["*"] }`,
      ],
    });
    await journalAdt(agent);
  });
  afterAll(async () => {
    await agent?.stop();
    dir.remove();
  });

  it('refuses a request without a token, or with a wrong one, with 401 — from loopback too', async () => {
    for (const base of [agent.url, ...(lan ? [`http://${lan}:${agent.port}`] : [])]) {
      expect((await fetch(`${base}/v1/records/adt/${RESIDENT_ID}`)).status).toBe(401);
      expect((await fetch(`${base}/v1/records/adt/${RESIDENT_ID}`, { headers: bearer('not-a-token-of-anyone') })).status).toBe(401);
      expect((await postRows(base, 'appointments', { key: 'APT-X' })).status).toBe(401);
      expect((await postRows(base, 'appointments', { key: 'APT-X' }, bearer(`${EMR_TOKEN}x`))).status).toBe(401);
    }
    expect(agent.log()).toMatch(/\/v1\/records and \/v1\/ingest answer http\.clients by token or certificate, nobody without credentials/);
  });

  it('lets each token read and write only the streams it was given, 403 otherwise', async () => {
    const read = await fetch(`${agent.url}/v1/records/adt/${RESIDENT_ID}`, { headers: bearer(EMR_TOKEN) });
    expect(read.status).toBe(200);
    const overwrite = await postRows(agent.url, 'adt', { key: RESIDENT_ID, name: 'Mallory' }, bearer(EMR_TOKEN));
    expect(overwrite.status).toBe(403);
    expect(((await overwrite.json()) as { error: { message: string } }).error.message).toBe('client emr-bridge may not write stream adt (http.clients[].write)');
    expect((await fetch(`${agent.url}/v1/records/adt/${RESIDENT_ID}`, { headers: bearer(PORTAL_TOKEN) })).status).toBe(403);

    expect((await postRows(agent.url, 'appointments', { key: 'APT-1', at: '09:00' }, bearer(EMR_TOKEN))).status).toBe(200);
    expect((await postRows(agent.url, 'orders', { key: 'ORD-1' }, bearer(PORTAL_TOKEN))).status).toBe(200);
  });

  it('records the client as the source of what it ingests', async () => {
    const record = (await (await fetch(`${agent.url}/v1/records/appointments/APT-1`, { headers: bearer(EMR_TOKEN) })).json()) as { source: string };
    expect(record.source).toBe('http:emr-bridge');
  });
});

describe.skipIf(lan === undefined)('an agent whose config opens the data plane to anyone', () => {
  const dir = makeTempDir('wardline-apps-anyone-');
  let agent: IngestAgent;

  beforeAll(async () => {
    agent = await startIngestAgent(dir.path, { listenHost: '0.0.0.0', http: ['anonymousApps: anyone'] });
  });
  afterAll(async () => {
    await agent?.stop();
    dir.remove();
  });

  it('answers a LAN peer without credentials, and warns about it at start', async () => {
    expect((await postRows(`http://${lan}:${agent.port}`, 'appointments', { key: 'APT-1' })).status).toBe(200);
    expect(agent.log()).toMatch(/"level":40.*http\.anonymousApps is \\"anyone\\"/);
  });
});
