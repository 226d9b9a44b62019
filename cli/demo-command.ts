// `wardline demo`: a relay, an agent and a simulated hospital on the embedded
// defaults, with a vendor reading the replicated feed, so a newcomer sees the whole
// data path work within a minute and knows where to look. It runs the way a
// deployment should: a development CA, TLS on both relay endpoints and mutual
// TLS for the agent (plaintext only if the openssl command is missing).
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { startAgent } from '../agent/index.js';
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate, startRelay } from '../cloud-relay/index.js';
import { createWardlineLogger, OpenSslMissingError } from '../runtime/index.js';
import { DEFAULT_AGENT_HTTP_PORT, DEFAULT_MLLP_PORT, DEFAULT_RELAY_GRPC_PORT, DEFAULT_RELAY_HTTP_PORT, FeedsService, pb, type FeedEvent, type SubscribeRequest } from '../protocol/index.js';
import { SimulatedHospital } from '../simulator/index.js';
import { runUntilSignal } from './run-until-signal.js';

export interface DemoOptions {
  rate: number;
  dir: string;
  duration?: number;
  ephemeralPorts: boolean;
}

const HOSPITAL_ID = 'demo-hospital';
const VENDOR_FEED = 'clinical';

export async function demoCommand(options: DemoOptions): Promise<number> {
  const dir = resolve(options.dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const secret = randomBytes(18).toString('base64url');
  const vendorKey = `vk_${randomBytes(18).toString('base64url')}`;
  // The relay's status page, full /v1/status and /metrics are for its operator only.
  const operatorToken = `op_${randomBytes(18).toString('base64url')}`;
  writeFileSync(join(dir, 'relay-operator-token'), `${operatorToken}\n`, { mode: 0o600 });
  const port = (standard: number): number => (options.ephemeralPorts ? 0 : standard);
  const tls = await demoCertificates(join(dir, 'tls'));

  const relayConfig = join(dir, 'relay.yaml');
  writeFileSync(
    relayConfig,
    `# Written by \`wardline demo\`. See examples/relay.yaml for every option.
relayId: demo-relay
dataDir: ./relay-data
grpc: { listen: "127.0.0.1:${port(DEFAULT_RELAY_GRPC_PORT)}" }
http: { listen: "127.0.0.1:${port(DEFAULT_RELAY_HTTP_PORT)}", operatorTokenFile: ./relay-operator-token }
${
  tls
    ? `tls:
  certFile: ./tls/relay/server.crt
  keyFile: ./tls/relay/server.key
  # Mutual TLS: the agent proves its hospital with the client certificate issued for it.
  clientCaFile: ./tls/ca/ca.crt
  # The demo vendor reads over gRPC with its key and no certificate.
  requireClientCert: false
hospitals:
  # No secret: the client certificate identifies the agent.
  - { id: ${HOSPITAL_ID}, name: "Wardline Demo Hospital" }`
    : `# The openssl command was missing, so no certificates: plaintext, for this local demo only.
allowPlaintext: true
hospitals:
  - { id: ${HOSPITAL_ID}, name: "Wardline Demo Hospital", secret: "${secret}" }`
}
vendors:
  - name: regional-platform
    key: "${vendorKey}"
    grants: [{ hospital: ${HOSPITAL_ID}, feeds: [${VENDOR_FEED}] }]
log: { level: info }
`,
  );
  const relay = await startRelay(relayConfig, { logger: createWardlineLogger({ level: 'info', destination: pino.destination({ dest: join(dir, 'relay.log'), sync: false }) }) });

  const agentConfig = join(dir, 'agent.yaml');
  writeFileSync(
    agentConfig,
    `# Written by \`wardline demo\`. See examples/agent.yaml for every option.
hospital: { id: ${HOSPITAL_ID}, name: "Wardline Demo Hospital" }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${port(DEFAULT_AGENT_HTTP_PORT)}" }
sources:
  - { kind: mllp, name: his-lis, listen: "127.0.0.1:${port(DEFAULT_MLLP_PORT)}" }
relays:
${
  tls
    ? `  - name: cloud
    address: "localhost:${relay.grpcPort}"
    tls: { caFile: ./tls/${HOSPITAL_ID}/ca.crt, certFile: ./tls/${HOSPITAL_ID}/client.crt, keyFile: ./tls/${HOSPITAL_ID}/client.key }`
    : `  - { name: cloud, address: "127.0.0.1:${relay.grpcPort}", secret: "${secret}", allowPlaintext: true }`
}
feeds:
  # ADT, lab results and orders go to the regional platform.
  - { name: ${VENDOR_FEED}, relay: cloud, streams: [adt, results, orders] }
  # Appointments from the local booking app go to the patient app.
  - { name: appointments, relay: cloud, streams: [appointments] }
  # his.patient rows are in no feed: they never leave the hospital.
log: { level: info }
`,
  );
  const agent = await startAgent(agentConfig, { logger: createWardlineLogger({ level: 'info', destination: pino.destination({ dest: join(dir, 'agent.log'), sync: false }) }) });
  const mllpPort = agent.mllpPorts.get('his-lis')!;

  const hospital = new SimulatedHospital({
    mllp: { host: '127.0.0.1', port: mllpPort },
    ingestUrl: `http://127.0.0.1:${agent.httpPort}`,
    ratePerSecond: options.rate,
    connections: 2,
    seed: `wardline-demo-${Date.now()}`,
    startTime: new Date(),
  });
  hospital.start();

  // With TLS the relay is dialled by a name its certificate carries (SNI carries names, not IP addresses).
  const relayHost = tls ? 'localhost' : '127.0.0.1';
  const vendor = new DemoVendor(`${relayHost}:${relay.grpcPort}`, vendorKey, tls && readFileSync(tls.caFile));
  vendor.start();

  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  say('');
  say('Wardline demo is running: simulated hospital → agent → relay → vendor feed');
  say('');
  say(`  dashboard          http://127.0.0.1:${agent.httpPort}/`);
  say(`  agent status       npx wardline agent status --url http://127.0.0.1:${agent.httpPort}`);
  say(`  local copy         curl http://127.0.0.1:${agent.httpPort}/v1/records/adt/<patient id>`);
  const curl = tls ? `curl --cacert ${tls.caFile}` : 'curl';
  const relayHttp = `${tls ? 'https' : 'http'}://${relayHost}:${relay.httpPort}`;
  say(`  relay status       ${curl} -H 'Authorization: Bearer ${operatorToken}' ${relayHttp}/v1/status   (a page at ${relayHttp}/, password: the operator token)`);
  say(`  vendor feed (HTTP) ${curl} -H 'Authorization: Bearer ${vendorKey}' '${relayHttp}/v1/feeds/${VENDOR_FEED}/events?after=0&limit=5'`);
  say(
    `  vendor feed (gRPC) npx wardline feed tail --relay ${relayHost}:${relay.grpcPort} ${tls ? `--ca ${tls.caFile}` : '--plaintext'} --key ${vendorKey} --feed ${VENDOR_FEED} --follow --format text`,
  );
  say(tls ? `  transport          TLS with a development CA in ${join(dir, 'tls')}; the agent authenticates with its client certificate` : '  transport          plaintext (install openssl for the TLS demo)');
  say(`  HL7 MLLP listener  127.0.0.1:${mllpPort}   configs and logs in ${dir}`);
  say('');
  say(options.duration ? `Stopping by itself after ${options.duration} s.` : 'Ctrl-C stops everything cleanly.');

  const ticker = setInterval(() => {
    const stats = hospital.stats();
    const status = agent.status();
    const clinical = status.feeds.find((f) => f.feed === VENDOR_FEED);
    say(
      `[${new Date().toLocaleTimeString()}] hospital sent ${stats.sent} HL7 (AA ${stats.acked.AA ?? 0}) + ${stats.jsonRowsPosted} JSON rows · ` +
        `journal seq ${status.journal.headSeq} · link ${status.links[0]?.state} · relay acked ${clinical?.ackedSeq ?? 0} · ` +
        `vendor received ${vendor.received} events${vendor.lastLine ? ` (latest ${vendor.lastLine})` : ''}`,
    );
  }, 5000);

  const stop = async (): Promise<void> => {
    clearInterval(ticker);
    await hospital.stop();
    vendor.stop();
    await agent.stop();
    await relay.stop();
    say(`Stopped. The vendor received ${vendor.received} events. Data, configs and logs are in ${dir}.`);
  };
  if (options.duration) {
    const timer = setTimeout(() => process.kill(process.pid, 'SIGTERM'), options.duration * 1000);
    await runUntilSignal(stop);
    clearTimeout(timer);
  } else {
    await runUntilSignal(stop);
  }
  return 0;
}

/** A vendor following the clinical feed over gRPC, as `wardline feed tail` does. */
class DemoVendor {
  received = 0;
  lastLine = '';
  private readonly client: grpc.Client;
  private call: grpc.ClientReadableStream<FeedEvent> | undefined;
  private stopped = false;

  constructor(address: string, private readonly key: string, ca: Buffer | undefined) {
    const credentials = ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createInsecure();
    this.client = new (grpc.makeGenericClientConstructor(FeedsService, 'Feeds'))(address, credentials);
  }

  start(after = 0): void {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.key}`);
    const request: SubscribeRequest = pb.SubscribeRequest.create({ feed: VENDOR_FEED, after, follow: true });
    const call = (this.client as unknown as { subscribe(r: SubscribeRequest, m: grpc.Metadata): grpc.ClientReadableStream<FeedEvent> }).subscribe(request, metadata);
    this.call = call;
    let cursor = after;
    call.on('data', (message: FeedEvent) => {
      this.received++;
      cursor = Number(message.event?.seq ?? cursor);
      this.lastLine = `seq ${cursor} ${message.event?.stream}/${message.event?.key} ${message.event?.headers?.messageType ?? ''}`.trim();
    });
    call.on('error', () => {
      if (!this.stopped) setTimeout(() => this.start(cursor), 1000);
    });
  }

  stop(): void {
    this.stopped = true;
    this.call?.cancel();
    this.client.close();
  }
}

/**
 * A development CA, the relay's certificate for 127.0.0.1 and localhost, and the
 * demo hospital's client certificate, under `dir`; undefined when the openssl
 * command is missing (the demo then runs in plaintext and says so).
 */
async function demoCertificates(dir: string): Promise<{ caFile: string } | undefined> {
  try {
    const ca = await createCertificateAuthority(join(dir, 'ca'), { commonName: 'Wardline demo CA' });
    await issueServerCertificate(join(dir, 'ca'), join(dir, 'relay'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    await issueClientCertificate(join(dir, 'ca'), join(dir, HOSPITAL_ID), HOSPITAL_ID);
    return { caFile: ca.certFile };
  } catch (error) {
    if (!(error instanceof OpenSslMissingError)) throw error;
    process.stderr.write(`wardline demo: ${error.message}; running without TLS\n`);
    return undefined;
  }
}
