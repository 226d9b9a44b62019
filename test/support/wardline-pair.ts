// A relay and an agent as real child processes on fixed loopback ports, with
// configs written to a test directory: the shape every process-level test and
// benchmark shares. Ports are fixed so a process killed with SIGKILL comes back
// where its peers expect it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentStatus } from '../../agent/agent-status.js';
import { freePort } from './free-port.js';
import { WardlineProcess, waitForHttp } from './wardline-process.js';

export const PAIR_SECRET = 'pair-hospital-secret-0001';
export const PAIR_VENDOR_KEY = 'pair-vendor-key-000000001';
export const PAIR_FEED = 'clinical';

export interface WardlinePairOptions {
  hospital: string;
  logLevel?: 'info' | 'warn';
  /** Where the agent dials the relay; default the relay itself (a fault proxy goes here). */
  relayAddressForAgent?: (relayGrpcPort: number) => string;
  /** Extra keys for the agent's relay entry (relays[0]), e.g. `{ keepaliveTimeMs: 1000 }`. */
  agentRelay?: Record<string, unknown>;
  /** Extra keys for the agent's `replication` section, over the pair's own (backoff merged key by key). */
  agentReplication?: Record<string, unknown> & { backoff?: Record<string, unknown> };
  /** Extra environment variables for the agent process (e.g. GRPC_TRACE). */
  agentEnv?: Record<string, string>;
}

export class WardlinePair {
  relay: WardlineProcess | undefined;
  agent: WardlineProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly ports: { relayGrpc: number; relayHttp: number; agentHttp: number; mllp: number },
    private readonly agentEnv: Record<string, string> = {},
  ) {}

  static async create(dir: string, options: WardlinePairOptions): Promise<WardlinePair> {
    const ports = { relayGrpc: await freePort(), relayHttp: await freePort(), agentHttp: await freePort(), mllp: await freePort() };
    const level = options.logLevel ?? 'info';
    const relayAddress = options.relayAddressForAgent?.(ports.relayGrpc) ?? `127.0.0.1:${ports.relayGrpc}`;
    writeFileSync(
      join(dir, 'relay.yaml'),
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:${ports.relayGrpc}" }
http: { listen: "127.0.0.1:${ports.relayHttp}" }
hospitals: [{ id: ${options.hospital}, secret: "${PAIR_SECRET}" }]
vendors: [{ name: test-vendor, key: "${PAIR_VENDOR_KEY}", grants: [{ hospital: ${options.hospital}, feeds: [${PAIR_FEED}] }] }]
log: { level: ${level} }
`,
    );
    writeFileSync(
      join(dir, 'agent.yaml'),
      `hospital: { id: ${options.hospital} }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${ports.agentHttp}" }
sources: [{ kind: mllp, name: lis, listen: "127.0.0.1:${ports.mllp}" }]
relays: [${JSON.stringify({ name: 'cloud', address: relayAddress, secret: PAIR_SECRET, ...options.agentRelay })}]
feeds: [{ name: ${PAIR_FEED}, relay: cloud, streams: [adt, results, orders] }]
replication: ${JSON.stringify({ ...options.agentReplication, backoff: { initialMs: 100, maxMs: 1000, ...options.agentReplication?.backoff } })}
log: { level: ${level} }
`,
    );
    return new WardlinePair(dir, ports, options.agentEnv);
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
    return (await (await fetch(`${this.agentHttp}/v1/status`)).json()) as AgentStatus;
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
