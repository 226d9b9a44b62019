// The export of a running relay, both ways a hospital gets one:
//  - the operator's `wardline relay export` (the built CLI) against the data dir of a
//    relay that is running and taking batches from a real agent;
//  - the hospital's own `wardline agent export` / fetchExport over the real Export RPC,
//    authenticated by its client certificate (mutual TLS) or its secret, exactly as
//    Replicate is; and the refusals: another hospital's certificate, a wrong secret,
//    an unknown feed, a relay too old to serve exports.
// Every export fetched is verified (verifyExport) against the relay's key.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchExport, startAgent, verifyExport, type RunningAgent } from '../../agent/index.js';
import { AgentErrorCode } from '../../agent/errors.js';
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate, startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { EXPORT_FEATURE, PROTOCOL_VERSION, ReplicationService, pb, type RelayMessage } from '../../protocol/index.js';
import { buildExportFixture, FX_HOSPITAL } from '../support/export-fixture.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH } from '../support/wardline-process.js';

const quiet = pino({ level: 'silent' });
const temp = makeTempDir('wardline-export-rpc-');
const at = (...parts: string[]) => join(temp.path, ...parts);
const SECRET_H2 = 'h2-secret-0123456789abcdef';
const ca = at('pki', 'ca');
let relay: RelayHandle;
let agent: RunningAgent;
const relayDataDir = at('relay', 'data');
const trustedKey = () => readFileSync(join(relayDataDir, 'relay-signing.pub'), 'utf8');
const tlsOf = (bundle?: string) => ({
  ca: readFileSync(join(ca, 'ca.crt')),
  ...(bundle ? { cert: readFileSync(join(bundle, 'client.crt')), key: readFileSync(join(bundle, 'client.key')) } : {}),
});
const wardline = (...args: string[]) => spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000 });
/** The CLI run without blocking this process, which serves the relay it talks to. */
const wardlineAsync = (...args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => resolve({ status: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr })),
  );

beforeAll(async () => {
  await createCertificateAuthority(ca);
  await Promise.all([
    issueServerCertificate(ca, at('pki', 'relay'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
    issueClientCertificate(ca, at('pki', 'h1'), 'h1'),
    issueClientCertificate(ca, at('pki', 'h2'), 'h2'),
  ]);
  // h1's feeds (hl7v2, json, imaging with its chunks) as batches the relay stored; h2 replicates live below.
  const fixture = await buildExportFixture(relayDataDir);
  await fixture.close();
  writeFileSync(
    at('relay', 'relay.yaml'),
    `dataDir: ./data
relayId: relay-rpc
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
tls: { certFile: ${at('pki', 'relay', 'server.crt')}, keyFile: ${at('pki', 'relay', 'server.key')}, clientCaFile: ${join(ca, 'ca.crt')}, requireClientCert: false }
hospitals: [{ id: h1 }, { id: h2, secret: "${SECRET_H2}" }]
log: { level: silent }
`,
  );
  relay = await startRelay(at('relay', 'relay.yaml'), { logger: quiet, shutdownGraceMs: 1_000 });
  mkdirSync(at('agent'));
  writeFileSync(
    at('agent', 'agent.yaml'),
    `hospital: { id: h2 }
dataDir: ./data
http: { listen: "127.0.0.1:0" }
relays: [${JSON.stringify({ name: 'cloud', address: `127.0.0.1:${relay.grpcPort}`, secret: SECRET_H2, tls: { caFile: join(ca, 'ca.crt') } })}]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
replication: { backoff: { initialMs: 100, maxMs: 500 } }
log: { level: silent }
`,
  );
  agent = await startAgent(at('agent', 'agent.yaml'), { logger: quiet });
  const response = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/ingest/adt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ key: `p${i}`, ward: '3B' }))),
  });
  expect(response.status).toBe(200);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const h2 = (await relay.status()).hospitals.find((h) => h.id === 'h2');
    if (h2?.feeds.find((f) => f.feed === 'clinical')?.events === 20) break;
    if (Date.now() > deadline) throw new Error(`the agent did not replicate its 20 rows: ${JSON.stringify(agent.status().links)} ${JSON.stringify(h2)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await agent?.stop();
  await relay?.stop();
  temp.remove();
});

describe('export of a running relay', () => {
  it('`wardline relay export` writes a verifiable export while the relay runs, and prints the summary and the verify command', async () => {
    const out = at('cli-export');
    const result = wardline('relay', 'export', '-c', at('relay', 'relay.yaml'), '--hospital', 'h1', '--out', out);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`exported hospital h1 to ${out}`);
    expect(result.stdout).toMatch(/\d+ files, 57 events, \d+ bytes in [\d.]+ s \([\d.]+ MB\/s\)/);
    expect(result.stdout).toContain(`verify it with: wardline export verify ${out} --pubkey ${join(relayDataDir, 'relay-signing.pub')}`);
    const verified = wardline('export', 'verify', out, '--pubkey', join(relayDataDir, 'relay-signing.pub'));
    expect(verified.status, verified.stderr).toBe(0);
    expect(spawnSync('minisign', ['-V', '-m', 'manifest.json', '-p', join(relayDataDir, 'relay-signing.pub')], { cwd: out }).status).toBe(0);
    // The live hospital's feed too: what the agent replicated, while it keeps its stream open.
    const live = wardline('relay', 'export', '-c', at('relay', 'relay.yaml'), '--hospital', 'h2', '--feed', 'clinical', '--out', at('cli-export-h2'));
    expect(live.status, live.stderr).toBe(0);
    expect((await verifyExport(at('cli-export-h2'), { trustedPublicKey: trustedKey() })).events).toBe(20);
  });

  it('`wardline relay export` refuses an unknown hospital, an unknown feed and a non-empty --out, with their codes', () => {
    const config = at('relay', 'relay.yaml');
    const unknownHospital = wardline('relay', 'export', '-c', config, '--hospital', 'h9', '--out', at('refused'));
    expect(unknownHospital.status).toBe(1);
    expect(unknownHospital.stderr).toContain('[WL_EXPORT_UNKNOWN_HOSPITAL] hospital "h9" is not in hospitals[] of the relay config (it lists: h1, h2)');
    const unknownFeed = wardline('relay', 'export', '-c', config, '--hospital', 'h1', '--feed', 'lab', '--out', at('refused'));
    expect(unknownFeed.status).toBe(1);
    expect(unknownFeed.stderr).toContain('[WL_EXPORT_UNKNOWN_FEED] the relay holds no feed "lab" for hospital "h1" (it holds: adt, imaging, rows)');
    mkdirSync(at('busy'));
    writeFileSync(at('busy', 'notes.txt'), 'x');
    const busy = wardline('relay', 'export', '-c', config, '--hospital', 'h1', '--out', at('busy'));
    expect(busy.status).toBe(1);
    expect(busy.stderr).toContain('[WL_EXPORT_OUT_DIR]');
    expect(readdirSync(temp.path)).not.toContain('refused');
  });

  it('the hospital fetches its export over the Export RPC with its client certificate alone (mutual TLS), imaging chunks included', async () => {
    const fetched = await fetchExport({ address: `127.0.0.1:${relay.grpcPort}`, tls: tlsOf(at('pki', 'h1')), hospitalId: 'h1', secret: '', outDir: at('rpc-h1'), trustedPublicKey: trustedKey() });
    expect(fetched.verification.keySource).toBe('trusted');
    expect(fetched.verification.feeds.map((f) => f.feed)).toEqual(['adt', 'imaging', 'rows']);
    expect(readdirSync(at('rpc-h1', 'blobs'))).toHaveLength(3);
    // The same roots as the operator's export of the same feeds.
    const cli = JSON.parse(readFileSync(at('cli-export', 'manifest.json'), 'utf8')) as { extension: { wardline: { feeds: unknown } } };
    expect(fetched.verification.feeds).toEqual(cli.extension.wardline.feeds);
    expect(fetched.verification.manifest.request).toBe('Export RPC from the agent of hospital h1');
    // Nothing of it is left in the relay's scratch space.
    expect(readdirSync(join(relayDataDir, 'export-scratch'))).toEqual([]);
  });

  it('`wardline agent export` fetches with the replication link\'s credentials (secret over TLS) and verifies', async () => {
    const direct = await fetchExport({ address: `127.0.0.1:${relay.grpcPort}`, tls: tlsOf(), hospitalId: 'h2', secret: SECRET_H2, outDir: at('rpc-h2'), trustedPublicKey: trustedKey() });
    expect(direct.verification.events).toBe(21);
    const out = at('agent-export');
    const result = await wardlineAsync('agent', 'export', '-c', at('agent', 'agent.yaml'), '--out', out, '--pubkey', join(relayDataDir, 'relay-signing.pub'));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`fetched and verified the export of hospital h2 from relay relay-rpc into ${out}`);
    expect(result.stdout).toContain('feed clinical: 20 events');
  });

  it('refuses another hospital\'s certificate, a wrong secret and an unknown feed, leaving nothing in --out', async () => {
    const base = { address: `127.0.0.1:${relay.grpcPort}`, secret: '' };
    await expect(fetchExport({ ...base, tls: tlsOf(at('pki', 'h2')), hospitalId: FX_HOSPITAL, outDir: at('x1') })).rejects.toMatchObject({
      code: AgentErrorCode.EXPORT_FETCH,
      message: expect.stringContaining('PERMISSION_DENIED: WL_CERTIFICATE_MISMATCH'),
    });
    await expect(fetchExport({ ...base, tls: tlsOf(), hospitalId: 'h2', secret: 'wrong-secret-0123456789', outDir: at('x2') })).rejects.toMatchObject({
      message: expect.stringContaining('UNAUTHENTICATED'),
    });
    await expect(fetchExport({ ...base, tls: tlsOf(at('pki', 'h1')), hospitalId: 'h1', feeds: ['lab'], outDir: at('x3') })).rejects.toMatchObject({
      message: expect.stringContaining('NOT_FOUND: WL_EXPORT_UNKNOWN_FEED: the relay holds no feed "lab" for hospital "h1"'),
    });
    expect(readdirSync(temp.path).filter((name) => /^x\d|partial/.test(name))).toEqual([]);
  });

  it('lists export-v1 in Welcome, so an agent knows the relay serves Export', async () => {
    const Client = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');
    const client = new Client(`127.0.0.1:${relay.grpcPort}`, grpc.credentials.createSsl(readFileSync(join(ca, 'ca.crt'))));
    const call = (client as unknown as { replicate(): grpc.ClientDuplexStream<unknown, RelayMessage> }).replicate();
    call.on('error', () => undefined);
    const first = new Promise<RelayMessage>((resolve) => call.once('data', resolve));
    call.write(pb.AgentMessage.create({ hello: { protocolVersion: PROTOCOL_VERSION, hospitalId: 'h2', agentId: 'probe', secret: SECRET_H2, feeds: [], agentVersion: 'test' } }));
    expect((await first).welcome?.features).toContain(EXPORT_FEATURE);
    call.cancel();
    client.close();
  });

  it('refuses parts a relay sends for a path outside the export, or a stream cut before the signature, leaving nothing behind', async () => {
    const script: { path: string; offset: number; data: Buffer; lastPart: boolean }[][] = [
      [{ path: '../escaped.txt', offset: 0, data: Buffer.from('x'), lastPart: true }],
      [{ path: 'feeds/adt.ndjson', offset: 0, data: Buffer.from('{}\n'), lastPart: true }],
      [{ path: 'feeds/adt.ndjson', offset: 5, data: Buffer.from('{}\n'), lastPart: true }],
    ];
    let call = 0;
    const rogue = new grpc.Server();
    rogue.addService(ReplicationService, {
      replicate: (c: grpc.ServerDuplexStream<unknown, unknown>) => c.end(),
      export: (c: grpc.ServerWritableStream<unknown, unknown>) => {
        for (const part of script[call++]!) c.write(pb.ExportPart.create(part));
        c.end();
      },
    });
    const port = await new Promise<number>((resolve, reject) => rogue.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    try {
      const ask = (out: string) => fetchExport({ address: `127.0.0.1:${port}`, tls: undefined, hospitalId: 'h1', secret: 's', outDir: at(out) });
      await expect(ask('rogue-1')).rejects.toMatchObject({ code: AgentErrorCode.EXPORT_FETCH, message: expect.stringContaining('"../escaped.txt", which is not a file an export may hold') });
      await expect(ask('rogue-2')).rejects.toMatchObject({ message: expect.stringContaining('the stream ended before manifest.json.minisig') });
      await expect(ask('rogue-3')).rejects.toMatchObject({ message: expect.stringContaining('offset 5, expected 0') });
      expect(readdirSync(temp.path).filter((name) => /rogue|partial|escaped/.test(name))).toEqual([]);
    } finally {
      rogue.forceShutdown();
    }
  });

  it('says the relay must be upgraded when it does not serve Export (UNIMPLEMENTED)', async () => {
    const old = new grpc.Server();
    old.addService({ replicate: ReplicationService.replicate }, { replicate: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end() });
    const port = await new Promise<number>((resolve, reject) => old.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    try {
      await expect(fetchExport({ address: `127.0.0.1:${port}`, tls: undefined, hospitalId: 'h1', secret: 's', outDir: at('old') })).rejects.toMatchObject({
        code: AgentErrorCode.EXPORT_RELAY_TOO_OLD,
        message: expect.stringContaining('ask its operator to upgrade the relay'),
      });
    } finally {
      old.forceShutdown();
    }
  });
});
