// The NATS JetStream peer for `npm run bench`: the job Wardline does (journal on the
// edge, a durable copy at the hub) done the way a NATS user would do it. A stream with
// file storage on an edge nats-server, mirrored over a leaf node link into a stream
// with file storage on a hub nats-server. Two measurements, each the like of one of
// Wardline's: live (producers each awaiting their PubAcks, as MLLP senders await
// their ACK or ingest clients their batch's answer, timed until the hub holds every
// message) and catch-up (a backlog in the edge stream, a new hub mirror timed until
// it holds it all, as the agent drains its journal after an outage). Both servers
// are our own child processes on free loopback ports, never a nats-server the
// machine may already run.
//
// The figure only means something beside its fsync setting: by default JetStream
// acknowledges a publish once the message is in the file store's buffers and syncs
// the files on a background timer, while Wardline ACKs after an fsync. The result
// says which one was measured, and whether the server could do the other at all.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { jetstream, jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort } from '../support/free-port.js';
import { until } from '../support/until.js';
import { percentile } from './workload.js';

/** Where Debian's nats-server package installs the binary. */
export const DEFAULT_NATS_SERVER_PATH = '/usr/sbin/nats-server';
export const DEFAULT_MIRROR_TIMEOUT_MS = 60_000;
const SERVER_READY_TIMEOUT_MS = 15_000;
const MIRROR_POLL_MS = 50;
const STOP_GRACE_MS = 5_000;

const EDGE_DOMAIN = 'edge';
const HUB_DOMAIN = 'hub';
const EDGE_STREAM = 'WARDLINE';
const HUB_MIRROR = 'WARDLINE_MIRROR';
const HUB_BACKLOG_MIRROR = 'WARDLINE_BACKLOG';
const SUBJECT_PREFIX = 'wardline';

export interface JetStreamPairOptions {
  /** Server configs and file stores go here; the caller removes it. */
  workDir: string;
  /**
   * false: the server's default file store sync (PubAck before fsync).
   * true: `sync_interval: always` where the server accepts it, else the smallest
   * interval it accepts, else its default; the result says which ran.
   */
  syncAlways: boolean;
  /** Default DEFAULT_NATS_SERVER_PATH. */
  serverPath?: string;
  /** How long the hub may take to hold every message. Default DEFAULT_MIRROR_TIMEOUT_MS. */
  mirrorTimeoutMs?: number;
}

export interface JetStreamLiveOptions {
  /** The same payloads Wardline moves, as its producers send them. */
  payloads: readonly Buffer[];
  /** Per-payload subject suffix (e.g. the stream 'adt', 'his.patient'), same length as payloads; default 'events'. */
  subjects?: readonly string[];
  /**
   * Concurrent publishers, each on its own connection (as each MLLP sender has its
   * own socket or each ingest client its own request).
   */
  publishers: number;
  /**
   * Messages a publisher sends before it waits for their PubAcks: 1 is an MLLP
   * sender (one message in flight), 500 an ingest client posting a batch. Default 1.
   */
  batch?: number;
}

export interface JetStreamLiveResult {
  messages: number;
  payloadBytes: number;
  publishers: number;
  batch: number;
  /** Until every PubAck from the edge was in. */
  publishSeconds: number;
  publishPerSecond: number;
  /** From the first publish until the hub's mirror held every message: events reaching the far side. */
  mirroredSeconds: number;
  mirroredPerSecond: number;
  /** Per-publish PubAck latency (for a batch: from the batch's start). */
  ackP50Ms: number;
  ackP99Ms: number;
}

export interface JetStreamCatchUpResult {
  messages: number;
  payloadBytes: number;
  /** Filling the edge stream (not the measured figure): messages/s. */
  fillPerSecond: number;
  /** A new hub mirror from its creation until it held every message of the edge stream. */
  catchUpSeconds: number;
  catchUpPerSecond: number;
}

interface SyncChoice {
  /** The jetstream block line, or undefined for the server's default. */
  configLine?: string;
  fsyncSetting: string;
  fsyncPerMessage: boolean;
}

interface Ports {
  client: number;
  http: number;
}

/** A nats-server child process that keeps the tail of its output to explain a failure. */
class NatsServerProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private output = '';
  private hasExited = false;

  constructor(
    readonly name: string,
    serverPath: string,
    configFile: string,
    readonly ports: Ports,
  ) {
    this.child = spawn(serverPath, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-10_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      const done = (): void => {
        this.hasExited = true;
        resolve();
      };
      this.child.once('exit', done);
      // A missing binary emits 'error' and never 'exit'.
      this.child.once('error', (error) => {
        keep(Buffer.from(`${error.message}\n`));
        done();
      });
    });
  }

  get recentOutput(): string {
    return this.output;
  }

  /** Polls the monitoring endpoint until JetStream reports healthy. */
  async waitHealthy(): Promise<void> {
    await until(
      `${this.name} nats-server healthy`,
      async () => {
        if (this.hasExited) throw new Error(`${this.name} nats-server exited:\n${this.output}`);
        return (await this.monitor('healthz'))?.status;
      },
      (status) => status === 'ok',
      { timeoutMs: SERVER_READY_TIMEOUT_MS, pollMs: MIRROR_POLL_MS },
    );
  }

  /** GET /<path> on the monitoring port; undefined while it does not answer. */
  async monitor(path: string): Promise<Record<string, unknown> | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.ports.http}/${path}`, { signal: AbortSignal.timeout(1000) });
      return response.ok ? ((await response.json()) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    const graceful = await Promise.race([this.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!graceful) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True if the server's config check (`-t`) accepts the jetstream block line. */
function serverAccepts(serverPath: string, workDir: string, jetstreamLine: string): Promise<boolean> {
  const file = join(workDir, 'sync-probe.conf');
  const storeDir = join(workDir, 'sync-probe');
  writeFileSync(file, `listen: 127.0.0.1:-1\njetstream {\n  store_dir: ${JSON.stringify(storeDir)}\n  ${jetstreamLine}\n}\n`);
  return new Promise((resolve) => {
    const child = spawn(serverPath, ['-t', '-c', file], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

/**
 * Picks the file store sync setting. v2.9.10's config parser rejects sync_interval
 * outright while later servers accept it (and 'always'), so ask the binary rather
 * than guess from its version number.
 */
async function chooseSync(serverPath: string, workDir: string, syncAlways: boolean): Promise<SyncChoice> {
  const hasSyncInterval = await serverAccepts(serverPath, workDir, 'sync_interval: "2m"');
  const builtIn = hasSyncInterval
    ? 'sync_interval default (2 min): PubAck before fsync'
    : 'no sync_interval option in this server: files fsynced by its fixed background timer (2 min in v2.9.10), PubAck before fsync';
  if (!syncAlways) return { fsyncSetting: builtIn, fsyncPerMessage: false };
  if (await serverAccepts(serverPath, workDir, 'sync_interval: always')) {
    return { configLine: 'sync_interval: always', fsyncSetting: 'sync_interval: always: fsync of every write before its PubAck', fsyncPerMessage: true };
  }
  if (hasSyncInterval) {
    return {
      configLine: 'sync_interval: "1ms"',
      fsyncSetting: "sync_interval: 1ms ('always' is not accepted by this server): PubAck before fsync, at most 1 ms of writes unsynced",
      fsyncPerMessage: false,
    };
  }
  return { fsyncSetting: `sync_interval: always asked for but not settable; ${builtIn}`, fsyncPerMessage: false };
}

function serverConfig(options: {
  name: string;
  ports: Ports;
  storeDir: string;
  domain: string;
  syncLine?: string;
  leafnodes: string;
}): string {
  return [
    `server_name: ${JSON.stringify(`wardline-bench-${options.name}`)}`,
    `listen: "127.0.0.1:${options.ports.client}"`,
    `http: "127.0.0.1:${options.ports.http}"`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(options.storeDir)}`,
    `  domain: ${options.domain}`,
    ...(options.syncLine ? [`  ${options.syncLine}`] : []),
    '}',
    options.leafnodes,
    '',
  ].join('\n');
}

async function startServers(serverPath: string, workDir: string, syncLine: string | undefined): Promise<{ hub: NatsServerProcess; edge: NatsServerProcess }> {
  const [hubClient, hubHttp, hubLeaf, edgeClient, edgeHttp] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  const servers: { hub?: NatsServerProcess; edge?: NatsServerProcess } = {};
  try {
    const start = (name: string, ports: Ports, domain: string, leafnodes: string): NatsServerProcess => {
      const dir = join(workDir, name);
      mkdirSync(dir, { recursive: true });
      const configFile = join(dir, 'nats-server.conf');
      writeFileSync(configFile, serverConfig({ name, ports, storeDir: join(dir, 'jetstream'), domain, syncLine, leafnodes }));
      return new NatsServerProcess(name, serverPath, configFile, ports);
    };
    // The hub first, so the edge's leaf remote connects on its first try rather than after a reconnect delay.
    servers.hub = start('hub', { client: hubClient!, http: hubHttp! }, HUB_DOMAIN, `leafnodes {\n  listen: "127.0.0.1:${hubLeaf}"\n}`);
    await servers.hub.waitHealthy();
    servers.edge = start('edge', { client: edgeClient!, http: edgeHttp! }, EDGE_DOMAIN, `leafnodes {\n  remotes: [ { url: "nats-leaf://127.0.0.1:${hubLeaf}" } ]\n}`);
    await servers.edge.waitHealthy();
    const hub = servers.hub;
    await until('the edge leaf node link to the hub', async () => Number((await hub.monitor('leafz'))?.leafnodes ?? 0), (links) => links >= 1, {
      timeoutMs: SERVER_READY_TIMEOUT_MS,
      pollMs: MIRROR_POLL_MS,
      describe: () => `hub output:\n${hub.recentOutput}\nedge output:\n${servers.edge!.recentOutput}`,
    });
    return { hub: servers.hub, edge: servers.edge };
  } catch (error) {
    await Promise.all([servers.edge?.stop(), servers.hub?.stop()]);
    throw error;
  }
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  return jsm.streams.info(name).catch(() => undefined);
}

/** Creates a hub mirror of the edge stream, reaching the edge's JetStream API over the leaf link by its domain. */
async function addHubMirror(hubJsm: JetStreamManager, name: string): Promise<void> {
  await hubJsm.streams.add({
    name,
    storage: 'file',
    mirror: { name: EDGE_STREAM, external: { api: `$JS.${EDGE_DOMAIN}.API` } },
  });
}

/** Waits until the named hub mirror holds count messages; the error says how many arrived. */
async function waitForMirror(hubJsm: JetStreamManager, name: string, count: number, timeoutMs: number): Promise<void> {
  await until(`hub mirror ${name} to hold ${count} messages`, () => streamInfo(hubJsm, name), (info) => (info?.state.messages ?? 0) >= count, {
    timeoutMs,
    pollMs: MIRROR_POLL_MS,
    describe: (info) => `it holds ${info?.state.messages ?? 'unknown'}${info?.mirror?.error ? ` (mirror error: ${info.mirror.error.description})` : ''}`,
  });
}

/**
 * Publishes every payload, `publishers` loops each sending `batch` messages and
 * then awaiting their PubAcks; returns per-publish latencies in ms.
 */
async function publishAll(connections: NatsConnection[], payloads: readonly Buffer[], subjects: readonly string[], batch: number): Promise<Float64Array> {
  const latencies = new Float64Array(payloads.length);
  let next = 0;
  await Promise.all(
    connections.map(async (nc) => {
      const js = jetstream(nc);
      while (next < payloads.length) {
        const first = next;
        const last = Math.min(payloads.length, first + batch);
        next = last;
        const start = performance.now();
        await Promise.all(
          Array.from({ length: last - first }, async (_, k) => {
            const i = first + k;
            const ack = await js.publish(subjects[i]!, payloads[i]!);
            latencies[i] = performance.now() - start;
            if (ack.stream !== EDGE_STREAM) throw new Error(`publish ${i} was acknowledged by stream ${ack.stream}, expected ${EDGE_STREAM}`);
          }),
        );
      }
    }),
  );
  return latencies;
}

/**
 * NATS doing Wardline's job: an edge nats-server holding a stream with file
 * storage, mirrored over a leaf node link into a hub nats-server. Each
 * measurement starts from empty streams; stop() ends both servers.
 */
export class JetStreamPair {
  private readonly connections: NatsConnection[] = [];
  private edgeNc!: NatsConnection;
  private hubJsm!: JetStreamManager;
  private edgeJsm!: JetStreamManager;
  private mirrors = 0;

  private constructor(
    private readonly options: JetStreamPairOptions,
    private readonly servers: { hub: NatsServerProcess; edge: NatsServerProcess },
    private readonly sync: SyncChoice,
  ) {}

  static async start(options: JetStreamPairOptions): Promise<JetStreamPair> {
    const serverPath = options.serverPath ?? DEFAULT_NATS_SERVER_PATH;
    mkdirSync(options.workDir, { recursive: true });
    const sync = await chooseSync(serverPath, options.workDir, options.syncAlways);
    const servers = await startServers(serverPath, options.workDir, sync.configLine);
    const pair = new JetStreamPair(options, servers, sync);
    try {
      pair.edgeNc = await pair.open(servers.edge);
      pair.hubJsm = await jetstreamManager(await pair.open(servers.hub));
      pair.edgeJsm = await jetstreamManager(pair.edgeNc);
    } catch (error) {
      await pair.stop();
      throw error;
    }
    return pair;
  }

  get serverVersion(): string {
    return this.edgeNc.info?.version ?? 'unknown';
  }

  /** What the file stores did about fsync, in words for the bench table. */
  get fsyncSetting(): string {
    return this.sync.fsyncSetting;
  }

  /** True only if the server was configured to fsync every write before its PubAck. */
  get fsyncPerMessage(): boolean {
    return this.sync.fsyncPerMessage;
  }

  /**
   * Live: `publishers` producers each waiting for their PubAcks, into an edge
   * stream that a hub mirror follows; timed until the hub holds every message.
   */
  async live(options: JetStreamLiveOptions): Promise<JetStreamLiveResult> {
    const { payloads, publishers } = options;
    const batch = options.batch ?? 1;
    if (payloads.length === 0) throw new Error('JetStreamPair.live: no payloads');
    if (!Number.isInteger(publishers) || publishers < 1) throw new Error(`JetStreamPair.live: publishers must be a positive integer, got ${publishers}`);
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`JetStreamPair.live: batch must be a positive integer, got ${batch}`);
    if (options.subjects && options.subjects.length !== payloads.length) {
      throw new Error(`JetStreamPair.live: ${options.subjects.length} subjects for ${payloads.length} payloads`);
    }
    const subjects = payloads.map((_, i) => `${SUBJECT_PREFIX}.${options.subjects?.[i] ?? 'events'}`);
    const mirror = await this.freshStreams();
    // One probe message through the whole path before the clock starts: proves the
    // mirror reaches the edge over the leaf link and keeps the hub's set-up (consumer
    // creation on the edge) out of the mirrored figure.
    await jetstream(this.edgeNc).publish(`${SUBJECT_PREFIX}.probe`, Buffer.from('probe'));
    await waitForMirror(this.hubJsm, mirror, 1, SERVER_READY_TIMEOUT_MS);

    const publishing = await Promise.all(Array.from({ length: publishers }, () => this.open(this.servers.edge)));
    try {
      const start = performance.now();
      const latencies = await publishAll(publishing, payloads, subjects, batch);
      const publishSeconds = (performance.now() - start) / 1000;
      await waitForMirror(this.hubJsm, mirror, payloads.length + 1, this.mirrorTimeoutMs);
      const mirroredSeconds = (performance.now() - start) / 1000;
      latencies.sort();
      return {
        messages: payloads.length,
        payloadBytes: payloads.reduce((n, p) => n + p.length, 0),
        publishers,
        batch,
        publishSeconds,
        publishPerSecond: payloads.length / publishSeconds,
        mirroredSeconds,
        mirroredPerSecond: payloads.length / mirroredSeconds,
        ackP50Ms: percentile(latencies, 0.5),
        ackP99Ms: percentile(latencies, 0.99),
      };
    } finally {
      await Promise.all(publishing.map((nc) => this.close(nc)));
    }
  }

  /**
   * Catch-up: the edge stream is filled with the backlog (untimed, many publishes
   * in flight), as an outage leaves it; then a new hub mirror is created and timed
   * until it holds every message.
   */
  async catchUp(backlog: Iterable<{ subject: string; payload: Buffer }>): Promise<JetStreamCatchUpResult> {
    await this.freshStreams({ withMirror: false });
    const js = jetstream(this.edgeNc);
    const inFlight = 2_000;
    let count = 0;
    let payloadBytes = 0;
    let acks: Promise<unknown>[] = [];
    const fillStart = performance.now();
    for (const { subject, payload } of backlog) {
      count++;
      payloadBytes += payload.length;
      acks.push(js.publish(`${SUBJECT_PREFIX}.${subject}`, payload));
      if (acks.length === inFlight) {
        await Promise.all(acks);
        acks = [];
      }
    }
    await Promise.all(acks);
    if (count === 0) throw new Error('JetStreamPair.catchUp: an empty backlog');
    const fillPerSecond = count / ((performance.now() - fillStart) / 1000);
    const start = performance.now();
    const mirror = `${HUB_BACKLOG_MIRROR}_${++this.mirrors}`;
    await addHubMirror(this.hubJsm, mirror);
    await waitForMirror(this.hubJsm, mirror, count, this.mirrorTimeoutMs);
    const catchUpSeconds = (performance.now() - start) / 1000;
    await this.hubJsm.streams.delete(mirror);
    return { messages: count, payloadBytes, fillPerSecond, catchUpSeconds, catchUpPerSecond: count / catchUpSeconds };
  }

  async stop(): Promise<void> {
    await Promise.all(this.connections.splice(0).map((nc) => nc.close().catch(() => undefined)));
    await Promise.all([this.servers.edge.stop(), this.servers.hub.stop()]);
  }

  private get mirrorTimeoutMs(): number {
    return this.options.mirrorTimeoutMs ?? DEFAULT_MIRROR_TIMEOUT_MS;
  }

  /** Empty edge stream (and, by default, a fresh hub mirror of it, whose name is returned). */
  private async freshStreams(options: { withMirror?: boolean } = {}): Promise<string> {
    for (const name of [HUB_MIRROR, EDGE_STREAM]) {
      const jsm = name === EDGE_STREAM ? this.edgeJsm : this.hubJsm;
      if (await streamInfo(jsm, name)) await jsm.streams.delete(name);
    }
    await this.edgeJsm.streams.add({ name: EDGE_STREAM, subjects: [`${SUBJECT_PREFIX}.>`], storage: 'file' });
    if (options.withMirror ?? true) await addHubMirror(this.hubJsm, HUB_MIRROR);
    return HUB_MIRROR;
  }

  private async open(server: NatsServerProcess): Promise<NatsConnection> {
    // No reconnect: a server that goes away mid-run is a failed measurement, not something to ride out.
    const nc = await connect({ servers: `127.0.0.1:${server.ports.client}`, reconnect: false, name: `wardline-bench-${server.name}` });
    this.connections.push(nc);
    return nc;
  }

  private async close(nc: NatsConnection): Promise<void> {
    const i = this.connections.indexOf(nc);
    if (i >= 0) this.connections.splice(i, 1);
    await nc.close().catch(() => undefined);
  }
}
