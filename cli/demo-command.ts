// `wardline demo`: a relay, an agent and a simulated hospital on the embedded
// defaults, each in its own process, with the line between agent and relay through
// a fault proxy the demo can cut, and a vendor reading the replicated feed, so a
// newcomer sees the whole data path work within a minute, watches it survive a cut
// line, and knows where to look. It runs the way a deployment should: a development
// CA, TLS on both relay endpoints and mutual TLS for the agent (plaintext only if
// the openssl command is missing).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_AGENT_HTTP_PORT, DEFAULT_MLLP_PORT, DEFAULT_RELAY_GRPC_PORT, DEFAULT_RELAY_HTTP_PORT } from '../protocol/index.js';
import type { InternetHospitalStats, MllpHisStats, SimulatedHospitalStats } from '../simulator/index.js';
import { demoCertificates } from './demo/demo-certificates.js';
import { DemoChild, DemoChildFailedError } from './demo/demo-child.js';
import { DemoDirectoryRefusedError, prepareDemoDirectory } from './demo/demo-directory.js';
import { DemoLine } from './demo/demo-line.js';
import type { DemoHisArgs, DemoHospitalArgs, DemoInternetHospitalArgs, DemoPartMessage } from './demo/demo-part-message.js';
import { DEMO_DEFAULT_PORTS, DEMO_HIS_PORT, firstPortInUse, portInUseMessage } from './demo/demo-ports.js';
import { DemoVendor } from './demo/demo-vendor.js';
import { runUntilSignal } from './run-until-signal.js';

export interface DemoOptions {
  rate: number;
  dir: string;
  duration?: number;
  ephemeralPorts: boolean;
  /** Seconds after the demo is running to cut the line between agent and relay. */
  cutLineAt?: number;
  /** Seconds after the demo is running to restore it. */
  restoreLineAt?: number;
}

const HOSPITAL_ID = 'demo-hospital';
const VENDOR_FEED = 'clinical';
/** The downlink's channels: what the internet hospital writes at the relay, and the HL7 message the HIS receives for each. */
const INBOUND_CHANNELS = { registration: 'registrations', booking: 'bookings', payment: 'payments' } as const;
/** The internet hospital's writes per second. */
const APP_RATE_PER_SECOND = 2;
/** How often the demo prints a line of counters, in ms. */
const TICK_INTERVAL_MS = 5000;

export async function demoCommand(options: DemoOptions): Promise<number> {
  const dir = resolve(options.dir);
  const fail = (message: string): number => {
    process.stderr.write(`wardline demo: ${message}\n`);
    return 1;
  };
  if (options.restoreLineAt !== undefined && (options.cutLineAt === undefined || options.restoreLineAt <= options.cutLineAt)) {
    return fail(`--restore-line-at ${options.restoreLineAt} needs a --cut-line-at before it`);
  }
  if (!options.ephemeralPorts) {
    const taken = await firstPortInUse(DEMO_DEFAULT_PORTS);
    if (taken !== undefined) return fail(portInUseMessage(taken));
  }
  try {
    prepareDemoDirectory(dir);
  } catch (error) {
    if (error instanceof DemoDirectoryRefusedError) return fail(error.message);
    throw error;
  }

  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const children: DemoChild[] = [];
  let line: DemoLine | undefined;
  let vendor: DemoVendor | undefined;
  let unexpectedExits = 0;
  let hospitalStats: SimulatedHospitalStats | undefined;
  let hisStats: MllpHisStats | undefined;
  let appStats: InternetHospitalStats | undefined;
  const onUnexpectedExit = (child: DemoChild, how: string): void => {
    unexpectedExits++;
    say(`[${new Date().toLocaleTimeString()}] the ${child.part} (pid ${child.pid}) ${how}; its log is ${child.logFile}`);
  };
  const stopAll = async (): Promise<void> => {
    vendor?.stop();
    // In order: the hospital stops sending, the agent syncs its journal, then the relay goes.
    for (const child of [...children].reverse()) await child.stop();
    await line?.stop();
  };

  let started: Awaited<ReturnType<typeof startParts>>;
  try {
    started = await startParts(dir, options, children, (l) => (line = l), onUnexpectedExit, (message) => {
      if (message.kind === 'stats') hospitalStats = message.stats;
      else if (message.kind === 'his-stats') hisStats = message.stats;
      else appStats = message.stats;
    });
  } catch (error) {
    await stopAll();
    if (error instanceof DemoChildFailedError) {
      return fail(error.portInUse !== undefined ? portInUseMessage(error.portInUse) : `the ${error.part} could not start: ${error.message} (logs in ${dir})`);
    }
    throw error;
  }
  const { agentHttp, mllpPort, relayGrpc, relayHttp, tls, vendorKey, operatorToken, appKey, hisPort } = started;
  const dashboard = `http://127.0.0.1:${agentHttp}/`;
  // With TLS the relay is dialled by a name its certificate carries (SNI carries names, not IP addresses).
  const relayHost = tls ? 'localhost' : '127.0.0.1';
  vendor = new DemoVendor(`${relayHost}:${relayGrpc}`, vendorKey, tls && readFileSync(tls.caFile), VENDOR_FEED);
  vendor.start();

  const [relay, , agent, hospital] = children as [DemoChild, DemoChild, DemoChild, DemoChild];
  say('');
  say('Wardline demo is running: simulated hospital → agent → line → relay → vendor feed');
  say('                          internet hospital → relay → line → agent → HIS, and the HIS\'s receipts back');
  say('');
  say(`  dashboard          ${dashboard}`);
  say(`  agent status       npx wardline agent status --url http://127.0.0.1:${agentHttp}`);
  say(`  local copy         curl http://127.0.0.1:${agentHttp}/v1/records/adt/<patient id>`);
  const curl = tls ? `curl --cacert ${tls.caFile}` : 'curl';
  const relayUrl = `${tls ? 'https' : 'http'}://${relayHost}:${relayHttp}`;
  say(`  relay status       ${curl} -H 'Authorization: Bearer ${operatorToken}' ${relayUrl}/v1/status   (a page at ${relayUrl}/, password: the operator token)`);
  say(`  vendor feed (HTTP) ${curl} -H 'Authorization: Bearer ${vendorKey}' '${relayUrl}/v1/feeds/${VENDOR_FEED}/events?after=0&limit=5'`);
  say(
    `  vendor feed (gRPC) npx wardline feed tail --relay ${relayHost}:${relayGrpc} ${tls ? `--ca ${tls.caFile}` : '--plaintext'} --key ${vendorKey} --feed ${VENDOR_FEED} --follow --format text`,
  );
  say(`  inbound (vendor)   ${curl} -H 'Authorization: Bearer ${appKey}' '${relayUrl}/v1/hospitals/${HOSPITAL_ID}/inbound/bookings/receipts?after=0'`);
  say(`  simulated HIS      MLLP filler on 127.0.0.1:${hisPort}: books slots (SRR^S01), refuses a taken slot (AR "slot already taken")`);
  say(tls ? `  transport          TLS with a development CA in ${join(dir, 'tls')}; the agent authenticates with its client certificate` : '  transport          plaintext (install openssl for the TLS demo)');
  say(`  HL7 MLLP listener  127.0.0.1:${mllpPort}   configs and logs in ${dir}`);
  say(`  line               the agent reaches the relay through a fault proxy on 127.0.0.1:${line!.port}`);
  say(`  processes          relay pid ${relay.pid} · agent pid ${agent.pid} · simulated hospital pid ${hospital.pid}   (kill -9 the agent to see the dashboard say it is unreachable)`);
  say('');
  const interactive = process.stdin.isTTY === true;
  if (interactive) say('Keys: c cuts the line, r restores it, q quits.');
  if (options.cutLineAt !== undefined) say(`The line is cut ${options.cutLineAt} s from now${options.restoreLineAt !== undefined ? ` and restored ${options.restoreLineAt} s from now` : ''}.`);
  say(options.duration ? `Stopping by itself after ${options.duration} s.` : 'Ctrl-C stops everything cleanly.');

  const timers: NodeJS.Timeout[] = [];
  if (options.cutLineAt !== undefined) timers.push(setTimeout(() => line!.cutLine(), options.cutLineAt * 1000));
  if (options.restoreLineAt !== undefined) timers.push(setTimeout(() => void line!.restoreLine(), options.restoreLineAt * 1000));
  if (options.duration) timers.push(setTimeout(() => process.kill(process.pid, 'SIGTERM'), options.duration * 1000));
  const stopKeys = interactive ? listenForKeys(line!) : () => {};

  const ticker = setInterval(() => void tick(), TICK_INTERVAL_MS);
  async function tick(): Promise<void> {
    const status = await fetchStatus(agentHttp);
    const stats = hospitalStats;
    const clinical = status?.feeds.find((f) => f.feed === VENDOR_FEED);
    say(
      `[${new Date().toLocaleTimeString()}] hospital sent ${stats?.sent ?? 0} HL7 (AA ${stats?.acked.AA ?? 0}) + ${stats?.jsonRowsPosted ?? 0} JSON rows · ` +
        (status
          ? `journal seq ${status.journal.headSeq} · link ${status.links[0]?.state}${line!.isCut ? ' (line cut)' : ''} · relay acked ${clinical?.ackedSeq ?? 0} · backlog ${clinical?.backlog.events ?? 0} · `
          : 'agent status unavailable · ') +
        `vendor received ${vendor!.received} events${vendor!.lastLine ? ` (latest ${vendor!.lastLine})` : ''}`,
    );
    const receipts = appStats?.receipts;
    say(
      `[${new Date().toLocaleTimeString()}] internet hospital wrote ${appStats?.answered ?? 0} · receipts ${receipts?.accepted ?? 0} accepted, ${receipts?.refused ?? 0} refused, ${receipts?.expired ?? 0} expired · ` +
        `HIS applied ${hisStats?.applied ?? 0}, refused ${hisStats?.refused ?? 0}`,
    );
  }

  await runUntilSignal(async () => {
    clearInterval(ticker);
    for (const timer of timers) clearTimeout(timer);
    stopKeys();
    await stopAll();
    say(`Stopped. The vendor received ${vendor!.received} events. Data, configs and logs are in ${dir}.`);
  });
  return unexpectedExits > 0 ? 1 : 0;
}

/** Resolves once the agent's link to the relay is streaming (it has declared its inbound channels), or after `timeoutMs`. */
async function linkStreaming(httpPort: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await fetchStatus(httpPort))?.links[0]?.state !== 'streaming') await new Promise((r) => setTimeout(r, 200));
}

/** The part of the agent's /v1/status the demo prints. */
interface DemoStatusView {
  journal: { headSeq: number };
  links: { state: string }[];
  feeds: { feed: string; ackedSeq: number; backlog: { events: number } }[];
}

async function fetchStatus(httpPort: number): Promise<DemoStatusView | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/v1/status`, { signal: AbortSignal.timeout(2000) });
    return response.ok ? ((await response.json()) as DemoStatusView) : undefined;
  } catch {
    return undefined;
  }
}

/** c cuts, r restores, q (or Ctrl-C, which raw mode delivers as a key) quits. Returns a function that stops listening. */
function listenForKeys(line: DemoLine): () => void {
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  const onKey = (data: Buffer): void => {
    const key = data.toString();
    if (key === 'c') line.cutLine();
    else if (key === 'r') void line.restoreLine();
    else if (key === 'q' || key === '\u0003') process.kill(process.pid, 'SIGINT');
  };
  stdin.on('data', onKey);
  return () => {
    stdin.off('data', onKey);
    stdin.setRawMode(false);
    stdin.pause();
  };
}

/** Writes the configs and starts relay, line, agent and hospital in that order; each waits for the one before. */
async function startParts(
  dir: string,
  options: DemoOptions,
  children: DemoChild[],
  setLine: (line: DemoLine) => void,
  onUnexpectedExit: (child: DemoChild, how: string) => void,
  onStats: (message: Extract<DemoPartMessage, { kind: 'stats' | 'his-stats' | 'app-stats' }>) => void,
) {
  const secret = randomBytes(18).toString('base64url');
  const vendorKey = `vk_${randomBytes(18).toString('base64url')}`;
  // The internet hospital's own key: it may write the hospital's inbound channels and read their receipts, nothing else.
  const appKey = `vk_${randomBytes(18).toString('base64url')}`;
  // The relay's status page, full /v1/status and /metrics are for its operator only.
  const operatorToken = `op_${randomBytes(18).toString('base64url')}`;
  writeFileSync(join(dir, 'relay-operator-token'), `${operatorToken}\n`, { mode: 0o600 });
  const port = (standard: number): number => (options.ephemeralPorts ? 0 : standard);
  const tls = await demoCertificates(join(dir, 'tls'), HOSPITAL_ID);

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
  - name: internet-hospital
    key: "${appKey}"
    grants: [{ hospital: ${HOSPITAL_ID}, inbound: [${Object.values(INBOUND_CHANNELS).join(', ')}] }]
log: { level: info }
`,
  );
  const relay = await DemoChild.start('relay', relayConfig, join(dir, 'relay.log'), { onUnexpectedExit });
  children.push(relay.child);
  const relayGrpc = relay.ports.grpc!;

  // The agent dials the line, not the relay, so the demo can cut it.
  let agentHttp = 0;
  const line = await DemoLine.start(relayGrpc, () => `http://127.0.0.1:${agentHttp}/`, (l) => void process.stdout.write(`${l}\n`));
  setLine(line);

  // The HIS the downlink delivers into, listening before the agent that dials it.
  const hisArgs: DemoHisArgs = { port: port(DEMO_HIS_PORT), refuseFraction: 0.05, seed: `wardline-demo-his-${Date.now()}` };
  const his = await DemoChild.start('his', JSON.stringify(hisArgs), join(dir, 'his.log'), { onUnexpectedExit, onStats });
  children.push(his.child);
  const hisPort = his.ports.mllp!;

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
  # Through the demo's line (a fault proxy in front of the relay's gRPC port ${relayGrpc}).
${
  tls
    ? `  - name: cloud
    address: "localhost:${line.port}"
    tls: { caFile: ./tls/${HOSPITAL_ID}/ca.crt, certFile: ./tls/${HOSPITAL_ID}/client.crt, keyFile: ./tls/${HOSPITAL_ID}/client.key }`
    : `  - { name: cloud, address: "127.0.0.1:${line.port}", secret: "${secret}", allowPlaintext: true }`
}
feeds:
  # ADT, lab results and orders go to the regional platform.
  - { name: ${VENDOR_FEED}, relay: cloud, streams: [adt, results, orders] }
  # Appointments from the local booking app go to the patient app.
  - { name: appointments, relay: cloud, streams: [appointments] }
  # his.patient rows are in no feed: they never leave the hospital.
inbound:
  # What the internet hospital writes at the relay, delivered into the HIS as HL7 v2 over MLLP;
  # the HIS's answer (AA, or AR with its reason) goes back to it as the receipt.
  - channel: ${INBOUND_CHANNELS.booking}
    relay: cloud
    keyPath: $.patient.id
    ttl: 2h
    sink:
      kind: mllp
      address: "127.0.0.1:${hisPort}"
      message: SRM^S01
      mapping: { ARQ-1: $.bookingId, ARQ-11.1: $.slot.start, PID-3.1: $.patient.id, PID-5: $.patient.name, AIS-4.1: $.slot.start, AIP-3.1: $.doctor.id, AIP-3.2: $.doctor.name }
  - channel: ${INBOUND_CHANNELS.registration}
    relay: cloud
    keyPath: $.patient.id
    sink:
      kind: mllp
      address: "127.0.0.1:${hisPort}"
      message: ADT^A04
      mapping: { PID-3.1: $.patient.id, PID-5: $.patient.name, PID-8: $.patient.sex, PV1-2: { value: O }, PV1-19: $.registrationId }
  - channel: ${INBOUND_CHANNELS.payment}
    relay: cloud
    keyPath: $.patient.id
    sink:
      kind: mllp
      address: "127.0.0.1:${hisPort}"
      message: DFT^P03
      mapping: { PID-3.1: $.patient.id, PID-5: $.patient.name, FT1-2: $.paymentId, FT1-6: { value: PY }, FT1-7: $.method, FT1-11: $.amount }
log: { level: info }
`,
  );
  const agent = await DemoChild.start('agent', agentConfig, join(dir, 'agent.log'), { onUnexpectedExit });
  children.push(agent.child);
  agentHttp = agent.ports.http!;
  const mllpPort = agent.ports.mllp!;

  const hospitalArgs: DemoHospitalArgs = {
    mllp: { host: '127.0.0.1', port: mllpPort },
    ingestUrl: `http://127.0.0.1:${agentHttp}`,
    ratePerSecond: options.rate,
    connections: 2,
    seed: `wardline-demo-${Date.now()}`,
  };
  const hospital = await DemoChild.start('hospital', JSON.stringify(hospitalArgs), join(dir, 'hospital.log'), {
    onUnexpectedExit,
    onStats,
  });
  children.push(hospital.child);

  // The internet hospital writes once the agent has declared its channels to the relay (before that they are unknown there).
  await linkStreaming(agentHttp, 30_000);
  const relayHttp = relay.ports.http!;
  const appArgs: DemoInternetHospitalArgs = {
    relayUrl: `${tls ? 'https://localhost' : 'http://127.0.0.1'}:${relayHttp}`,
    hospital: HOSPITAL_ID,
    vendorKey: appKey,
    channels: INBOUND_CHANNELS,
    seed: `wardline-demo-app-${Date.now()}`,
    ratePerSecond: APP_RATE_PER_SECOND,
  };
  const app = await DemoChild.start('internet-hospital', JSON.stringify(appArgs), join(dir, 'internet-hospital.log'), {
    onUnexpectedExit,
    onStats,
    // It dials the relay's HTTPS, whose certificate the demo's own CA signed.
    ...(tls ? { env: { NODE_EXTRA_CA_CERTS: tls.caFile } } : {}),
  });
  children.push(app.child);
  return { agentHttp, mllpPort, relayGrpc, relayHttp, tls, vendorKey, operatorToken, appKey, hisPort };
}
