// A relay and an agent as real child processes on fixed loopback ports, with
// configs written to a test directory: the shape every process-level test and
// benchmark shares. Ports are fixed so a process killed with SIGKILL comes back
// where its peers expect it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { freePort } from './free-port.js';
import { WardlineProcess, waitForHttp } from './wardline-process.js';

export const PAIR_SECRET = 'pair-hospital-secret-0001';
export const PAIR_VENDOR_KEY = 'pair-vendor-key-000000001';
export const PAIR_FEED = 'clinical';
/** The relay's operator token (for /, /v1/status and /metrics), in `relay-operator-token` beside relay.yaml. */
export const PAIR_OPERATOR_TOKEN = 'pair-operator-token-00001';
/** Headers that open the pair relay's operator endpoints. */
export const PAIR_OPERATOR_HEADERS = { authorization: `Bearer ${PAIR_OPERATOR_TOKEN}` } as const;
/** The file holding PAIR_OPERATOR_TOKEN, inside the pair's directory. */
export const PAIR_OPERATOR_TOKEN_FILE = 'relay-operator-token';

export interface WardlinePairOptions {
  hospital: string;
  logLevel?: 'info' | 'warn';
  /** `log.format` of both programs; default none (JSON, as their stdout is a pipe). */
  logFormat?: 'text' | 'json';
  /** Where the agent dials the relay; default the relay itself (a fault proxy goes here). */
  relayAddressForAgent?: (relayGrpcPort: number) => string;
  /** Extra keys for the agent's relay entry (relays[0]), e.g. `{ keepaliveTimeMs: 1000 }`. */
  agentRelay?: Record<string, unknown>;
  /** Extra keys for the agent's `replication` section, over the pair's own (backoff merged key by key). */
  agentReplication?: Record<string, unknown> & { backoff?: Record<string, unknown> };
  /** Extra environment variables for the agent process (e.g. GRPC_TRACE). */
  agentEnv?: Record<string, string>;
  /** Extra keys for the agent's `http` section, e.g. `{ admin: { passwordHash } }`. */
  agentHttp?: Record<string, unknown>;
  /** Extra top-level sections for agent.yaml, e.g. `{ alerts: { lag: '5s' } }`. */
  agentSections?: Record<string, unknown>;
  /** Feeds besides PAIR_FEED, sent to the same relay and granted to the same vendor. */
  extraFeeds?: { name: string; streams: string[]; class?: string }[];
  /** Priority class of PAIR_FEED (bandwidth.classes); default the agent's default class. */
  pairFeedClass?: string;
  /** Sources besides the MLLP listener, e.g. a `kind: dicom` SCP on a port of the test's choosing. */
  extraSources?: Record<string, unknown>[];
  /** Inbound channels the pair's vendor key may write (its grant's `inbound`); the agent's `inbound:` goes in agentSections. */
  vendorInbound?: string[];
}

export class WardlinePair {
  relay: WardlineProcess | undefined;
  agent: WardlineProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly ports: { relayGrpc: number; relayHttp: number; agentHttp: number; mllp: number },
    private readonly agentEnv: Record<string, string> = {},
    /** Sent as a bearer token with agentStatus(), for an agent whose http.admin closes /v1/status. */
    private readonly agentToken?: string,
  ) {}

  static async create(dir: string, options: WardlinePairOptions): Promise<WardlinePair> {
    const ports = { relayGrpc: await freePort(), relayHttp: await freePort(), agentHttp: await freePort(), mllp: await freePort() };
    const level = options.logLevel ?? 'info';
    const log = `log: { level: ${level}${options.logFormat ? `, format: ${options.logFormat}` : ''} }`;
    const relayAddress = options.relayAddressForAgent?.(ports.relayGrpc) ?? `127.0.0.1:${ports.relayGrpc}`;
    writeFileSync(join(dir, PAIR_OPERATOR_TOKEN_FILE), `${PAIR_OPERATOR_TOKEN}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'relay.yaml'),
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:${ports.relayGrpc}" }
http: { listen: "127.0.0.1:${ports.relayHttp}", operatorTokenFile: ${PAIR_OPERATOR_TOKEN_FILE} }
allowPlaintext: true
hospitals: [{ id: ${options.hospital}, secret: "${PAIR_SECRET}" }]
vendors: [{ name: test-vendor, key: "${PAIR_VENDOR_KEY}", grants: [{ hospital: ${options.hospital}, feeds: [${[PAIR_FEED, ...(options.extraFeeds ?? []).map((f) => f.name)].join(', ')}]${options.vendorInbound ? `, inbound: [${options.vendorInbound.join(', ')}]` : ''} }] }]
${log}
`,
    );
    writeFileSync(
      join(dir, 'agent.yaml'),
      `hospital: { id: ${options.hospital} }
dataDir: ./agent-data
http: ${JSON.stringify({ listen: `127.0.0.1:${ports.agentHttp}`, ...options.agentHttp })}
sources: ${JSON.stringify([{ kind: 'mllp', name: 'lis', listen: `127.0.0.1:${ports.mllp}` }, ...(options.extraSources ?? [])])}
relays: [${JSON.stringify({ name: 'cloud', address: relayAddress, secret: PAIR_SECRET, allowPlaintext: true, ...options.agentRelay })}]
feeds: ${JSON.stringify([{ name: PAIR_FEED, relay: 'cloud', streams: ['adt', 'results', 'orders'], ...(options.pairFeedClass ? { class: options.pairFeedClass } : {}) }, ...(options.extraFeeds ?? []).map((f) => ({ ...f, relay: 'cloud' }))])}
replication: ${JSON.stringify({ ...options.agentReplication, backoff: { initialMs: 100, maxMs: 1000, ...options.agentReplication?.backoff } })}
${Object.entries(options.agentSections ?? {})
  .map(([key, value]) => `${key}: ${JSON.stringify(value)}\n`)
  .join('')}${log}
`,
    );
    const token = (options.agentHttp?.admin as { token?: string } | undefined)?.token;
    return new WardlinePair(dir, ports, options.agentEnv, token);
  }

  get relayHttp(): string {
    return `http://127.0.0.1:${this.ports.relayHttp}`;
  }

  get agentHttp(): string {
    return `http://127.0.0.1:${this.ports.agentHttp}`;
  }

  async startRelay(): Promise<void> {
    this.relay = new WardlineProcess(['relay', 'start', '--config', join(this.dir, 'relay.yaml')], join(this.dir, 'relay.log'));
    await waitForHttp(`${this.relayHttp}/healthz`, this.relay);
  }

  async startAgent(): Promise<void> {
    this.agent = new WardlineProcess(['agent', 'start', '--config', join(this.dir, 'agent.yaml')], join(this.dir, 'agent.log'), this.agentEnv);
    await waitForHttp(`${this.agentHttp}/healthz`, this.agent);
  }

  async agentStatus(): Promise<AgentStatus> {
    const headers: Record<string, string> = this.agentToken ? { authorization: `Bearer ${this.agentToken}` } : {};
    return (await (await fetch(`${this.agentHttp}/v1/status`, { headers })).json()) as AgentStatus;
  }

  /**
   * An admin action (POST /v1/admin/…) as the dashboard sends it: JSON with the
   * agent's CSRF token (from GET /v1/session), or with the bearer token when set.
   */
  async adminPost(path: string, body: object = {}): Promise<Response> {
    const auth: Record<string, string> = this.agentToken
      ? { authorization: `Bearer ${this.agentToken}` }
      : { 'x-wardline-csrf': ((await (await fetch(`${this.agentHttp}/v1/session`)).json()) as { csrfToken: string }).csrfToken };
    return fetch(`${this.agentHttp}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
  }

  /** Resolves once the relay has acknowledged everything the agent journaled. */
  async waitForDrain(timeoutMs = 120_000): Promise<AgentStatus> {
    const deadline = Date.now() + timeoutMs;
    let status = await this.agentStatus();
    while ((status.feeds[0]!.ackedSeq < status.journal.headSeq || status.links[0]!.state !== 'streaming') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      status = await this.agentStatus();
    }
    return status;
  }

  async stop(): Promise<void> {
    await this.agent?.kill('SIGTERM');
    await this.relay?.kill('SIGTERM');
  }
}
