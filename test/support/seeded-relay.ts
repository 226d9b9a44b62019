// A real relay process (the built CLI) for the relay HTTP and feed attack tests: its
// feed store filled directly before it starts (so a test holds exactly the rows
// it needs, deep or big, without an agent), its resident memory read from /proc,
// raw sockets that ask for a page and never read it, and raw gRPC clients.
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { FeedsService, ReplicationService, pb, type AgentMessage, type FeedEvent, type JournalEvent, type RelayMessage, type SubscribeRequest } from '../../protocol/index.js';
import { AgentStream, SECRETS, Subscription } from '../integration/relay-harness.js';
import { freePort } from './free-port.js';
import { residentBytes } from '../bench/process-watch.js';
import { WardlineProcess, waitForHttp } from './wardline-process.js';

export const RH_HOSPITAL = 'h1';
export const RH_FEED = 'clinical';
/** Granted RH_FEED at RH_HOSPITAL. */
export const RH_READER_KEY = 'reader-key-0123456789abcdef';
/** Another vendor granted the same feed: its reads must not suffer from the reader's bounds. */
export const RH_NEIGHBOUR_KEY = 'neighbour-key-0123456789abcdef';
/** A valid key with no grant at all. */
export const RH_UNGRANTED_KEY = 'ungranted-key-0123456789abcdef';

export interface SeededRelayOptions {
  /** Stored into RH_HOSPITAL/RH_FEED before the relay starts, as one batch [1, last seq]. */
  events?: readonly JournalEvent[];
  /** Extra top-level config sections (merged over the defaults; `http` merged key by key). */
  config?: Record<string, unknown>;
}

export class SeededRelay {
  private readonly clients: grpc.Client[] = [];
  private readonly sockets: Socket[] = [];

  private constructor(
    readonly process: WardlineProcess,
    readonly httpPort: number,
    readonly grpcPort: number,
  ) {}

  static async start(dir: string, options: SeededRelayOptions = {}): Promise<SeededRelay> {
    const dataDir = join(dir, 'relay-data');
    const events = options.events ?? [];
    if (events.length > 0) {
      const store = SqliteFeedStore.open({ file: join(dataDir, 'relay.db') });
      await store.storeBatch({ hospital: RH_HOSPITAL, feed: RH_FEED, firstSeq: 1, lastSeq: events[events.length - 1]!.seq, events });
      await store.close();
    }
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const { http, ...sections } = options.config ?? {};
    const config = {
      dataDir,
      grpc: { listen: `127.0.0.1:${grpcPort}` },
      http: { listen: `127.0.0.1:${httpPort}`, ...(http as Record<string, unknown> | undefined) },
      allowPlaintext: true,
      hospitals: [{ id: RH_HOSPITAL, secret: SECRETS.h1 }],
      vendors: [
        { name: 'reader', key: RH_READER_KEY, grants: [{ hospital: RH_HOSPITAL, feeds: [RH_FEED] }] },
        { name: 'neighbour', key: RH_NEIGHBOUR_KEY, grants: [{ hospital: RH_HOSPITAL, feeds: [RH_FEED] }] },
        { name: 'ungranted', key: RH_UNGRANTED_KEY },
      ],
      log: { level: 'warn' },
      ...sections,
    };
    // JSON is YAML.
    writeFileSync(join(dir, 'relay.yaml'), JSON.stringify(config, null, 2));
    const relay = new WardlineProcess(['relay', 'start', '--config', join(dir, 'relay.yaml')], join(dir, 'relay.log'));
    const started = new SeededRelay(relay, httpPort, grpcPort);
    await waitForHttp(`${started.httpBase}/healthz`, relay);
    return started;
  }

  get httpBase(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** The relay process's resident memory, from /proc/<pid>/status (VmRSS), in bytes. */
  rssBytes(): number {
    return residentBytes(this.process.child.pid!);
  }

  /**
   * Asks for `path` with `key` on a raw socket and stops reading after the first
   * bytes: a vendor that never reads its page. Resolves with the HTTP status line's
   * code and the response head.
   */
  unreadRequest(path: string, key: string): Promise<{ status: number; head: string; socket: Socket }> {
    const socket = connect(this.httpPort, '127.0.0.1');
    this.sockets.push(socket);
    socket.on('error', () => {});
    socket.write(`GET ${path} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${key}\r\n\r\n`);
    return new Promise((resolve, reject) => {
      socket.once('data', (chunk: Buffer) => {
        socket.pause();
        const head = chunk.toString('latin1').split('\r\n\r\n')[0]!;
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, socket });
      });
      socket.once('close', () => reject(new Error(`connection closed before a response to ${path}`)));
    });
  }

  /** One gRPC connection (a vendor's client); subscriptions opened on it share it. */
  feedsClient(): grpc.Client {
    const Client = grpc.makeGenericClientConstructor(FeedsService, 'Feeds');
    const client = new Client(`127.0.0.1:${this.grpcPort}`, grpc.credentials.createInsecure());
    this.clients.push(client);
    return client;
  }

  subscribe(client: grpc.Client, key: string, request: SubscribeRequest | { feed: string; after?: number; follow?: boolean }): Subscription {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${key}`);
    const call = (client as unknown as { subscribe(request: SubscribeRequest, metadata: grpc.Metadata): grpc.ClientReadableStream<FeedEvent> }).subscribe(
      pb.SubscribeRequest.create(request),
      metadata,
    );
    return new Subscription(call);
  }

  /** An agent's Replicate stream for RH_HOSPITAL, Hello sent and Welcome received. */
  async agent(feeds: string[] = [RH_FEED]): Promise<AgentStream> {
    const Client = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');
    const client = new Client(`127.0.0.1:${this.grpcPort}`, grpc.credentials.createInsecure());
    this.clients.push(client);
    const stream = new AgentStream((client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate());
    stream.hello('h1', feeds);
    const welcome = await stream.next();
    if (welcome.body !== 'welcome') throw new Error(`expected Welcome, got ${welcome.body}`);
    return stream;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    for (const client of this.clients) client.close();
    await this.process.kill('SIGTERM');
  }
}

/** A JSON row of about `bytes` bytes, as the agent would store it. */
export function jsonEvent(seq: number, bytes: number, overrides: Partial<JournalEvent> = {}): JournalEvent {
  return {
    seq,
    stream: 'his.patient',
    key: `P${seq}`,
    op: 'upsert',
    tsMs: Date.UTC(2024, 0, 1) + seq,
    source: 'his-http',
    contentType: 'json',
    body: Buffer.from(JSON.stringify({ id: seq, note: 'x'.repeat(Math.max(0, bytes - 30)) }), 'utf8'),
    headers: {},
    ...overrides,
  };
}

/** The milliseconds GET /healthz takes, median of `samples`. */
export async function healthzMs(httpBase: string, samples = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await (await fetch(`${httpBase}/healthz`, { signal: AbortSignal.timeout(30_000) })).text();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** A fresh directory `name` inside `root`, one per relay a test starts. */
export function relayDir(root: string, name: string): string {
  const path = join(root, name);
  mkdirSync(path, { recursive: true });
  return path;
}
