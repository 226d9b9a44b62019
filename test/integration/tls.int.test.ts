// Transport security end to end: real relays and agents on 127.0.0.1 with real
// certificates made by `wardline cert`'s code in a temp dir. TLS on gRPC and
// HTTPS; mutual TLS, where the client certificate is the agent's identity; and
// every way it can be wrong, each with the message an operator would read.
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate, startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { FeedsService, PROTOCOL_VERSION, ReplicationService, pb, type AgentMessage, type FeedEvent, type RelayMessage, type SubscribeRequest } from '../../protocol/index.js';
import { ConfigError } from '../../runtime/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH } from '../support/wardline-process.js';

const quiet = pino({ level: 'silent' });
const SECRET_H1 = 'tls-test-h1-secret-000001';
const SECRET_H2 = 'tls-test-h2-secret-000002';
const VENDOR_KEY = 'tls-test-vendor-key-000001';

const temp = makeTempDir('wardline-tls-');
const at = (...parts: string[]) => join(temp.path, ...parts);
/** Certificate bundles, each a directory with ca.crt and the issued pair. */
const pki = {
  ca: at('ca'),
  untrustedCa: at('untrusted-ca'),
  /** server.crt for 127.0.0.1 and localhost. */
  relay: at('relay'),
  /** server.crt for relay.test only. */
  relayByName: at('relay-by-name'),
  h1: at('h1'),
  h2: at('h2'),
  /** A client certificate for h1 from a CA the relays do not trust. */
  untrustedH1: at('untrusted-h1'),
};
const pem = (dir: string, file: string) => join(dir, file);

beforeAll(async () => {
  await Promise.all([createCertificateAuthority(pki.ca), createCertificateAuthority(pki.untrustedCa, { commonName: 'Someone else CA' })]);
  await Promise.all([
    issueServerCertificate(pki.ca, pki.relay, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
    issueServerCertificate(pki.ca, pki.relayByName, { dnsNames: ['relay.test'], ipAddresses: [] }),
    issueClientCertificate(pki.ca, pki.h1, 'h1'),
    issueClientCertificate(pki.ca, pki.h2, 'h2'),
    issueClientCertificate(pki.untrustedCa, pki.untrustedH1, 'h1'),
  ]);
});

const relays: RelayHandle[] = [];
const agents: RunningAgent[] = [];
let counter = 0;

afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
});
afterAll(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
  temp.remove();
});

/** Starts a relay whose config has `transport` (tls: … or allowPlaintext: true) and `hospitals`. */
async function relayWith(transport: string, hospitals = `[{ id: h1, secret: "${SECRET_H1}" }]`): Promise<RelayHandle> {
  const dir = at(`relay-${++counter}`);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'relay.yaml'),
    `dataDir: ./data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
${transport}
hospitals: ${hospitals}
vendors: [{ name: vendor, key: "${VENDOR_KEY}", grants: [{ hospital: h1, feeds: [clinical] }] }]
log: { level: silent }
`,
  );
  const relay = await startRelay(join(dir, 'relay.yaml'), { logger: quiet, shutdownGraceMs: 1_000 });
  relays.push(relay);
  return relay;
}

const serverTls = (bundle = pki.relay, extra = '') => `tls: { certFile: ${pem(bundle, 'server.crt')}, keyFile: ${pem(bundle, 'server.key')}${extra} }`;
const mutualTls = (extra = '') => serverTls(pki.relay, `, clientCaFile: ${pem(pki.ca, 'ca.crt')}${extra}`);
/** relays[0].tls for a hospital bundle: its CA, certificate and key. */
const clientTls = (bundle: string, extra: Record<string, string> = {}) => ({
  tls: { caFile: pem(bundle, 'ca.crt'), certFile: pem(bundle, 'client.crt'), keyFile: pem(bundle, 'client.key'), ...extra },
});

/** Starts an agent for `hospital` whose relays[0] is `relay` plus `entry` (tls, secret, allowPlaintext…). */
async function agentFor(hospital: string, relay: RelayHandle, entry: Record<string, unknown>): Promise<RunningAgent> {
  const dir = at(`agent-${++counter}`);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'agent.yaml'),
    `hospital: { id: ${hospital} }
dataDir: ./data
http: { listen: "127.0.0.1:0" }
relays: [${JSON.stringify({ name: 'cloud', address: `127.0.0.1:${relay.grpcPort}`, connectTimeoutMs: 1500, handshakeTimeoutMs: 2000, ...entry })}]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
replication: { backoff: { initialMs: 100, maxMs: 500 } }
log: { level: silent }
`,
  );
  const agent = await startAgent(join(dir, 'agent.yaml'), { logger: quiet });
  agents.push(agent);
  return agent;
}

async function ingest(agent: RunningAgent, keys: string[]): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/ingest/adt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(keys.map((key) => ({ key, ward: '3B' }))),
  });
  expect(response.status).toBe(200);
}

async function until(agent: RunningAgent, what: string, predicate: (status: AgentStatus) => boolean, timeoutMs = 15_000): Promise<AgentStatus> {
  const deadline = Date.now() + timeoutMs;
  let status = agent.status();
  while (!predicate(status)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; link: ${JSON.stringify(status.links[0])}`);
    await new Promise((r) => setTimeout(r, 100));
    status = agent.status();
  }
  return status;
}

const drained = (agent: RunningAgent) =>
  until(agent, 'the relay to acknowledge everything', (s) => s.links[0]!.state === 'streaming' && s.feeds[0]!.ackedSeq === s.journal.headSeq && s.journal.headSeq > 0);
/** The link's lastError once it matches `pattern`. */
const refusal = async (agent: RunningAgent, pattern: RegExp): Promise<string> =>
  (await until(agent, `lastError ${pattern}`, (s) => pattern.test(s.links[0]!.lastError ?? ''))).links[0]!.lastError!;

/** GET over HTTPS trusting `ca`; resolves with the status and body. */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Feeds.Subscribe (no follow) with `credentials`: the events, or the status it ended with. */
function subscribe(relay: RelayHandle, credentials: grpc.ChannelCredentials): Promise<{ events: FeedEvent[]; status: grpc.StatusObject }> {
  const client = new (grpc.makeGenericClientConstructor(FeedsService, 'Feeds'))(`127.0.0.1:${relay.grpcPort}`, credentials);
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${VENDOR_KEY}`);
  const call = (client as unknown as { subscribe(r: SubscribeRequest, m: grpc.Metadata, o: grpc.CallOptions): grpc.ClientReadableStream<FeedEvent> }).subscribe(
    pb.SubscribeRequest.create({ feed: 'clinical' }),
    metadata,
    { deadline: Date.now() + 5_000 },
  );
  const events: FeedEvent[] = [];
  call.on('data', (event: FeedEvent) => events.push(event));
  call.on('error', () => {});
  return new Promise((resolve) =>
    call.on('status', (status: grpc.StatusObject) => {
      client.close();
      resolve({ events, status });
    }),
  );
}

/** A raw Replicate stream with `credentials` that says Hello for `hospital`; resolves with how the relay ended it. */
function rawHello(relay: RelayHandle, credentials: grpc.ChannelCredentials, hospital: string): Promise<grpc.StatusObject> {
  const client = new (grpc.makeGenericClientConstructor(ReplicationService, 'Replication'))(`127.0.0.1:${relay.grpcPort}`, credentials);
  const call = (client as unknown as { replicate(o: grpc.CallOptions): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate({ deadline: Date.now() + 5_000 });
  call.on('data', () => {});
  call.on('error', () => {});
  call.write(pb.AgentMessage.create({ hello: { protocolVersion: PROTOCOL_VERSION, hospitalId: hospital, agentId: 'raw', agentVersion: 'test', feeds: ['clinical'] } }));
  return new Promise((resolve) =>
    call.on('status', (status: grpc.StatusObject) => {
      client.close();
      resolve(status);
    }),
  );
}

const read = (dir: string, file: string) => readFileSync(pem(dir, file));

describe('TLS: the relay presents its certificate on gRPC and HTTPS', () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await relayWith(serverTls());
  });

  it('replicates to an agent that trusts the CA, and serves vendors over HTTPS and gRPC', async () => {
    const agent = await agentFor('h1', relay, { secret: SECRET_H1, tls: { caFile: pem(pki.ca, 'ca.crt') } });
    await ingest(agent, ['P1', 'P2', 'P3']);
    await drained(agent);
    expect((await relay.status()).connectedAgents).toEqual([expect.objectContaining({ hospital: 'h1', authenticatedBy: 'secret' })]);

    const page = await httpsGet(`https://127.0.0.1:${relay.httpPort}/v1/feeds/clinical/events`, read(pki.ca, 'ca.crt'), { authorization: `Bearer ${VENDOR_KEY}` });
    expect(page.status).toBe(200);
    expect(page.body.trimEnd().split('\n').map((line) => (JSON.parse(line) as { key: string }).key)).toEqual(['P1', 'P2', 'P3']);

    const viaGrpc = await subscribe(relay, grpc.credentials.createSsl(read(pki.ca, 'ca.crt')));
    expect(viaGrpc.status.code).toBe(grpc.status.OK);
    expect(viaGrpc.events.map((e) => e.event?.key)).toEqual(['P1', 'P2', 'P3']);

    // The same port does not answer plain HTTP.
    await expect(fetch(`http://127.0.0.1:${relay.httpPort}/healthz`)).rejects.toThrow();
  });

  it('serves `wardline feed tail --ca`, and refuses it without the CA', async () => {
    const run = promisify(execFile);
    const base = [CLI_PATH, 'feed', 'tail', '--relay', `127.0.0.1:${relay.grpcPort}`, '--key', VENDOR_KEY, '--feed', 'clinical'];
    const tail = await run(process.execPath, [...base, '--ca', pem(pki.ca, 'ca.crt'), '--limit', '2']);
    expect(tail.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { hospital: string; key: string }).hospital)).toEqual(['h1', 'h1']);
    const untrusting = (await run(process.execPath, base).catch((error: unknown) => error)) as { code: number; stderr: string };
    expect(untrusting.code).toBe(1);
    expect(untrusting.stderr).toMatch(/feed tail failed: UNAVAILABLE: .*\n {2}\(pass --ca with the CA that issued the relay's certificate/);
  });

  it('says so when the agent does not trust the CA that issued the relay certificate', async () => {
    const agent = await agentFor('h1', relay, { secret: SECRET_H1, tls: { caFile: pem(pki.untrustedCa, 'ca.crt') } });
    const error = await refusal(agent, /not trusted/);
    expect(error).toMatch(
      /^cannot connect to relay at 127\.0\.0\.1:\d+: the relay's certificate at 127\.0\.0\.1:\d+ is not trusted \(.+\): relays\[0\]\.tls\.caFile is not the CA that issued it/,
    );
  });

  it('says so when the relay certificate does not carry the dialled address, and verifies against serverName', async () => {
    const byName = await relayWith(serverTls(pki.relayByName));
    const wrong = await agentFor('h1', byName, { secret: SECRET_H1, tls: { caFile: pem(pki.ca, 'ca.crt') } });
    expect(await refusal(wrong, /serverName/)).toMatch(/the relay's certificate does not name the address the agent dials .*set relays\[0\]\.tls\.serverName/);
    const right = await agentFor('h1', byName, { secret: SECRET_H1, tls: { caFile: pem(pki.ca, 'ca.crt'), serverName: 'relay.test' } });
    await ingest(right, ['P9']);
    await drained(right);
  });

  it('a plaintext agent fails clearly against a TLS relay', async () => {
    const agent = await agentFor('h1', relay, { secret: SECRET_H1, allowPlaintext: true });
    expect(await refusal(agent, /speaks TLS/)).toMatch(
      /^cannot connect to relay at 127\.0\.0\.1:\d+: the relay at 127\.0\.0\.1:\d+ speaks TLS, but relays\[0\] connects in plaintext \(allowPlaintext: true\); replace allowPlaintext with relays\[0\]\.tls/,
    );
    expect(agent.status().links[0]!.state).not.toBe('streaming');
  });
});

describe('mutual TLS with a client certificate required: the certificate is the agent identity', () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    // No secrets: the certificates alone identify the hospitals.
    relay = await relayWith(mutualTls(), '[{ id: h1 }, { id: h2 }]');
  });

  it('replicates for an agent with the certificate issued for its hospital', async () => {
    const agent = await agentFor('h1', relay, clientTls(pki.h1));
    await ingest(agent, ['M1', 'M2']);
    await drained(agent);
    expect((await relay.status()).connectedAgents).toEqual([expect.objectContaining({ hospital: 'h1', authenticatedBy: 'certificate' })]);
    // The HTTPS feed API asks vendors for a key, never for a certificate.
    const page = await httpsGet(`https://127.0.0.1:${relay.httpPort}/v1/feeds/clinical/events`, read(pki.ca, 'ca.crt'), { authorization: `Bearer ${VENDOR_KEY}` });
    expect(page.body.trimEnd().split('\n')).toHaveLength(2);
  });

  it("refuses an agent whose valid certificate names another hospital, with PERMISSION_DENIED naming both", async () => {
    const agent = await agentFor('h1', relay, clientTls(pki.h2));
    const error = await refusal(agent, /identifies hospital/);
    expect(error).toBe(
      'relay stream ended: WL_CERTIFICATE_MISMATCH: the client certificate identifies hospital "h2" (CN=h2, URI:urn:wardline:hospital:h2) ' +
        'but Hello says hospital_id "h1": an agent may replicate only as the hospital its certificate names; install the certificate issued for "h1" ' +
        '(relays[].tls.certFile and keyFile) or correct hospital.id in agent.yaml',
    );
    expect((await relay.status()).connectedAgents.filter((a) => a.agentId.startsWith('h1@'))).toEqual([]);

    const status = await rawHello(relay, grpc.credentials.createSsl(read(pki.h2, 'ca.crt'), read(pki.h2, 'client.key'), read(pki.h2, 'client.crt')), 'h1');
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toMatch(/^WL_CERTIFICATE_MISMATCH: the client certificate identifies hospital "h2"/);
  });

  it('refuses a certificate from a CA it does not trust at the TLS layer', async () => {
    const agent = await agentFor('h1', relay, clientTls(pki.untrustedH1, { caFile: pem(pki.ca, 'ca.crt') }));
    // Node's TLS server verifies the chain once the handshake is done and drops the connection without an alert.
    const error = await refusal(agent, /client certificate in relays\[0\]\.tls\.certFile was not issued by a CA the relay trusts/);
    expect(error).toMatch(
      /^cannot connect to relay at 127\.0\.0\.1:\d+: the relay at 127\.0\.0\.1:\d+ (closed the connection right after the TLS handshake, which is how a relay refuses a client certificate|refused this agent's TLS handshake \(alert "[a-z ]+"\)): the client certificate in relays\[0\]\.tls\.certFile was not issued by a CA the relay trusts/,
    );
    expect(agent.status().links[0]!.state).not.toBe('streaming');
  });

  it('refuses an agent without a client certificate at the TLS layer', async () => {
    const agent = await agentFor('h1', relay, { secret: SECRET_H1, tls: { caFile: pem(pki.ca, 'ca.crt') } });
    expect(await refusal(agent, /requires a client certificate/)).toMatch(
      /the relay at 127\.0\.0\.1:\d+ requires a client certificate \(mutual TLS\) and relays\[0\]\.tls has none: set relays\[0\]\.tls\.certFile and keyFile/,
    );
    const status = await rawHello(relay, grpc.credentials.createSsl(read(pki.ca, 'ca.crt')), 'h1');
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('mutual TLS with the client certificate optional', () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await relayWith(mutualTls(', requireClientCert: false'), `[{ id: h1 }, { id: h2, secret: "${SECRET_H2}" }]`);
  });

  it('identifies an agent by its certificate, and lets vendors subscribe over gRPC with their key alone', async () => {
    const agent = await agentFor('h1', relay, clientTls(pki.h1));
    await ingest(agent, ['O1']);
    await drained(agent);
    const viaGrpc = await subscribe(relay, grpc.credentials.createSsl(read(pki.ca, 'ca.crt')));
    expect(viaGrpc.events.map((e) => e.event?.key)).toEqual(['O1']);
  });

  it('refuses a hospital without a secret when its agent presents no certificate', async () => {
    const agent = await agentFor('h1', relay, { secret: SECRET_H1, tls: { caFile: pem(pki.ca, 'ca.crt') } });
    expect(await refusal(agent, /could not be authenticated/)).toMatch(
      /^relay stream ended: WL_BAD_AGENT_CREDENTIALS: hospital "h1" could not be authenticated: .*presented none the relay trusts; check relays\[\]\.tls\.certFile and keyFile/,
    );
  });

  it('accepts a hospital that still has a secret by its secret, and with its certificate by both', async () => {
    const bySecret = await agentFor('h2', relay, { secret: SECRET_H2, tls: { caFile: pem(pki.ca, 'ca.crt') } });
    await ingest(bySecret, ['S1']);
    await drained(bySecret);
    expect((await relay.status()).connectedAgents.find((a) => a.hospital === 'h2')?.authenticatedBy).toBe('secret');
    await bySecret.stop();
    agents.splice(agents.indexOf(bySecret), 1);
    const byBoth = await agentFor('h2', relay, { secret: SECRET_H2, ...clientTls(pki.h2) });
    await ingest(byBoth, ['S2']);
    await drained(byBoth);
    expect((await relay.status()).connectedAgents.find((a) => a.hospital === 'h2')?.authenticatedBy).toBe('certificate and secret');
  });
});

describe('plaintext only when allowed', () => {
  it('a relay without tls and without allowPlaintext refuses to start, naming the key', async () => {
    const dir = at('refusing-relay');
    mkdirSync(dir);
    const file = join(dir, 'relay.yaml');
    writeFileSync(file, `dataDir: ./data\ngrpc: { listen: "127.0.0.1:0" }\nhttp: { listen: "127.0.0.1:0" }\nhospitals: [{ id: h1, secret: "${SECRET_H1}" }]\n`);
    const error = await startRelay(file, { logger: quiet }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      `tls: expected tls (certFile and keyFile; \`wardline cert\` makes development ones), or allowPlaintext: true to run without TLS for local development, got nothing (${file})`,
    ]);

    const cli = await promisify(execFile)(process.execPath, [CLI_PATH, 'relay', 'start', '--config', file]).catch((e: { code: number; stderr: string }) => e);
    expect((cli as { code: number }).code).toBe(78);
    expect((cli as { stderr: string }).stderr).toContain(`tls: expected tls (certFile and keyFile;`);
  });

  it('an agent relay entry without tls and without allowPlaintext refuses to start, naming the key', async () => {
    const relay = await relayWith('allowPlaintext: true');
    const error = await agentFor('h1', relay, { secret: SECRET_H1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]).toMatch(/^relays\[0\]\.tls: expected tls \(caFile for the relay's CA; certFile and keyFile for mutual TLS\), or allowPlaintext: true/);
  });

  it('a TLS agent fails clearly against a plaintext relay', async () => {
    const relay = await relayWith('allowPlaintext: true');
    const agent = await agentFor('h1', relay, { secret: SECRET_H1, tls: { caFile: pem(pki.ca, 'ca.crt') } });
    expect(await refusal(agent, /does not speak TLS|may not speak TLS/)).toMatch(/^cannot connect to relay at 127\.0\.0\.1:\d+: the relay at 127\.0\.0\.1:\d+ (does|may) not speak TLS/);
  });

  it('a relay with bad TLS files refuses to start, naming each key', async () => {
    const dir = at('bad-files');
    mkdirSync(dir);
    const file = join(dir, 'relay.yaml');
    // The key of another certificate, and a CA bundle that is a server certificate.
    writeFileSync(
      file,
      `dataDir: ./data\ntls: { certFile: ${pem(pki.relay, 'server.crt')}, keyFile: ${pem(pki.h1, 'client.key')}, clientCaFile: ${pem(pki.relay, 'server.crt')} }\nhospitals: [{ id: h1 }]\n`,
    );
    const error = (await startRelay(file, { logger: quiet }).catch((e: unknown) => e)) as ConfigError;
    expect(error.problems).toEqual([
      `tls.keyFile: the key in "${pem(pki.h1, 'client.key')}" does not belong to the certificate in tls.certFile ("${pem(pki.relay, 'server.crt')}") (${file})`,
      `tls.clientCaFile: "${pem(pki.relay, 'server.crt')}" is not a CA certificate; give the CA that issues the hospitals' client certificates (${file})`,
    ]);
  });
});
