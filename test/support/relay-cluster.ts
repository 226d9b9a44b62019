// N `wardline relay start` child processes sharing one store (one PostgreSQL
// database): one relay as an operator runs it behind a load balancer. Each
// member has its own directory, ports and dataDir (processes on several
// machines share no disk) but the same relay.yaml otherwise, and the same
// signing key, copied into each dataDir as an operator deploys it, so every
// process signs tree heads and receipts that verify with one public key.
// Ports are fixed per member, so a member killed with SIGKILL comes back where
// the balancer expects it.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import YAML from 'yaml';
import { loadOrCreateSigningKey } from '../../runtime/index.js';
import type { ProxyTarget } from './fault-proxy.js';
import { freePort } from './free-port.js';
import { WardlineProcess, waitForHttp } from './wardline-process.js';

/** The relay's key files in dataDir (cloud-relay/main.ts RELAY_SIGNING_KEY_NAME). */
const SIGNING_KEY_NAME = 'relay-signing';

export interface RelayClusterOptions {
  /** Where the members' directories (relay-0, relay-1, …) go. */
  dir: string;
  /** How many processes. */
  size: number;
  /** A relay.yaml whose hospitals, vendors, log and other sections every member shares (e.g. a WardlinePair's). */
  baseConfigFile: string;
  /** The store section every member gets, e.g. `{ kind: 'postgres', url }`. */
  store: Record<string, unknown>;
  /** Extra top-level sections over the base config's. */
  config?: Record<string, unknown>;
}

export interface RelayMember {
  readonly index: number;
  readonly dir: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** The running process; undefined while stopped or killed. */
  process: WardlineProcess | undefined;
}

export class RelayCluster {
  private constructor(readonly members: readonly RelayMember[]) {}

  /** Writes each member's relay.yaml and the shared signing key; starts nothing. */
  static async create(options: RelayClusterOptions): Promise<RelayCluster> {
    const base = YAML.parse(readFileSync(options.baseConfigFile, 'utf8')) as Record<string, unknown>;
    const baseHttp = (base.http ?? {}) as Record<string, unknown>;
    // Secret files are relative to the config file: point every member at the base's.
    const tokenFile = baseHttp.operatorTokenFile as string | undefined;
    const operatorTokenFile = tokenFile === undefined || isAbsolute(tokenFile) ? tokenFile : resolve(dirname(options.baseConfigFile), tokenFile);
    const members: RelayMember[] = [];
    for (let index = 0; index < options.size; index++) {
      const dir = join(options.dir, `relay-${index}`);
      const dataDir = join(dir, 'relay-data');
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      const config = {
        ...base,
        dataDir,
        grpc: { ...(base.grpc as Record<string, unknown>), listen: `127.0.0.1:${grpcPort}` },
        http: { ...baseHttp, listen: `127.0.0.1:${httpPort}`, ...(operatorTokenFile ? { operatorTokenFile } : {}) },
        store: options.store,
        ...options.config,
      };
      // JSON is YAML.
      writeFileSync(join(dir, 'relay.yaml'), JSON.stringify(config, null, 2));
      members.push({ index, dir, grpcPort, httpPort, process: undefined });
    }
    const key = loadOrCreateSigningKey(join(members[0]!.dir, 'relay-data'), SIGNING_KEY_NAME);
    for (const member of members.slice(1)) {
      for (const file of [key.privateKeyFile, key.publicKeyFile]) copyFileSync(file, join(member.dir, 'relay-data', basename(file)));
    }
    return new RelayCluster(members);
  }

  get size(): number {
    return this.members.length;
  }

  /** Each member's gRPC address, in member order: the balancer's backends. */
  get grpcBackends(): ProxyTarget[] {
    return this.members.map((m) => ({ host: '127.0.0.1', port: m.grpcPort }));
  }

  grpcAddress(index: number): string {
    return `127.0.0.1:${this.member(index).grpcPort}`;
  }

  httpBase(index: number): string {
    return `http://127.0.0.1:${this.member(index).httpPort}`;
  }

  isRunning(index: number): boolean {
    return this.member(index).process !== undefined;
  }

  /** Members whose process runs, by index. */
  get running(): number[] {
    return this.members.filter((m) => m.process !== undefined).map((m) => m.index);
  }

  /** Starts one member and waits for its /healthz. */
  async start(index: number, timeoutMs = 30_000): Promise<void> {
    const member = this.member(index);
    if (member.process) throw new Error(`relay ${index} is already running`);
    const process = new WardlineProcess(['relay', 'start', '--config', join(member.dir, 'relay.yaml')], join(member.dir, 'relay.log'));
    member.process = process;
    void process.exited.then(() => {
      if (member.process === process) member.process = undefined;
    });
    await waitForHttp(`${this.httpBase(index)}/healthz`, process, timeoutMs);
  }

  /**
   * Starts every member. The first starts alone (it runs the store's migrations;
   * the others would wait on the advisory lock anyway), the rest together.
   */
  async startAll(): Promise<void> {
    await this.start(0);
    await Promise.all(this.members.slice(1).map((m) => this.start(m.index)));
  }

  /** Kills one member (SIGKILL by default: no shutdown code runs) and waits for it to exit. */
  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const member = this.member(index);
    const process = member.process;
    if (!process) return;
    await process.kill(signal);
    member.process = undefined;
  }

  async restart(index: number): Promise<void> {
    await this.kill(index);
    await this.start(index);
  }

  /** The member's recent output, for a failure message. */
  recentOutput(index: number): string {
    return this.member(index).process?.recentOutput ?? readFileSync(join(this.member(index).dir, 'relay.log'), 'utf8').slice(-20_000);
  }

  /** Stops every member with SIGTERM. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m.index, 'SIGTERM')));
  }

  private member(index: number): RelayMember {
    const member = this.members[index];
    if (!member) throw new RangeError(`no relay ${index}: the cluster has ${this.members.length}`);
    return member;
  }
}
