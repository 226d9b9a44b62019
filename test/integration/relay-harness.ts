// Shared by the relay integration tests: a real relay on 127.0.0.1:0 with its
// database in a temp dir, and raw grpc-js clients that speak the wire protocol
// directly (no agent code), so the tests pin the contract itself.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import {
  FeedsService,
  PROTOCOL_VERSION,
  ReplicationService,
  encodeEvents,
  pb,
  type AgentMessage,
  type CodecName,
  type FeedEvent,
  type JournalEvent,
  type RelayMessage,
  type SubscribeRequest,
} from '../../protocol/index.js';
import { parseRelayConfig, RELAY_SIGNING_KEY_NAME, startRelay, type RelayConfigInput, type RelayHandle, type StartRelayOptions } from '../../cloud-relay/index.js';
import { offerOf, partOf, type TestInstance } from '../support/blob-instance.js';
import { makeTempDir } from '../support/temp-dir.js';
import { loadOrCreateSigningKey, signingKeyPaths } from '../../runtime/index.js';
import { DEFAULT_MAX_BATCH_BYTES, type InboundChannelDeclaration, type InboundReceipt } from '../../protocol/index.js';
import { SqliteInboundStore, type InboundRecord } from '../../cloud-relay/inbound/index.js';
import { HospitalAuth, ReplicationService as RelayReplicationService } from '../../cloud-relay/ingest/index.js';
import { buildRelayStatus, registerRelayStatusMetrics, renderRelayStatusPage, RelayMetrics, type RelayStatus } from '../../cloud-relay/status/index.js';
import { relayDatabaseFile, SqliteFeedStore } from '../../cloud-relay/store/index.js';

export const SECRETS = { h1: 'h1-secret-0123456789abcdef', h2: 'h2-secret-0123456789abcdef' } as const;
export const VENDOR_KEYS = { platform: 'platform-key-0123456789abcdef', app: 'patient-app-key-0123456789abcdef' } as const;
/** The operator token for /, /v1/status and /metrics (the config holds its SHA-256 only). */
export const OPERATOR_TOKEN = 'operator-token-0123456789abcdef';
/** Headers that open the relay's operator endpoints. */
export const OPERATOR_HEADERS = { authorization: `Bearer ${OPERATOR_TOKEN}` } as const;

/** hospitals h1, h2; vendor `platform` reads adt+results at h1 and results at h2; vendor `app` reads appointments at h2. */
export function testRelayConfig(dataDir: string): RelayConfigInput {
  return {
    relayId: 'test-relay',
    dataDir,
    grpc: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0', operatorTokenSha256: createHash('sha256').update(OPERATOR_TOKEN).digest('hex') },
    allowPlaintext: true,
    hospitals: [
      { id: 'h1', name: 'Hospital One', secret: SECRETS.h1 },
      { id: 'h2', secret: SECRETS.h2 },
    ],
    vendors: [
      {
        name: 'platform',
        key: VENDOR_KEYS.platform,
        grants: [
          { hospital: 'h1', feeds: ['adt', 'results'] },
          { hospital: 'h2', feeds: ['results'] },
        ],
      },
      { name: 'app', key: VENDOR_KEYS.app, grants: [{ hospital: 'h2', feeds: ['appointments'] }] },
    ],
    log: { level: 'silent' },
  };
}

/** One pino log line, parsed. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/**
 * Gives relays that will share one PostgreSQL database the same signing key before
 * they start, as an operator copies relay-signing.key into each process's dataDir
 * (a process with another key refuses to start: WL_SIGNING_KEY_MISMATCH).
 */
export function shareSigningKey(...relays: TestRelay[]): void {
  const [first, ...others] = relays;
  if (!first) return;
  const key = loadOrCreateSigningKey(first.dataDir, RELAY_SIGNING_KEY_NAME);
  for (const relay of others) {
    const paths = signingKeyPaths(relay.dataDir, RELAY_SIGNING_KEY_NAME);
    copyFileSync(key.privateKeyFile, paths.privateKeyFile);
    chmodSync(paths.privateKeyFile, 0o600);
    copyFileSync(key.publicKeyFile, paths.publicKeyFile);
  }
}

export class TestRelay {
  /**
   * @param configure changes the test config before the relay starts (e.g. more grants)
   * @param options start options beside the logger (e.g. protocolVersion: 1 for an older relay)
   */
  constructor(
    private readonly configure: (config: RelayConfigInput) => RelayConfigInput = (config) => config,
    private readonly options: Omit<StartRelayOptions, 'logger'> = {},
  ) {}

  private readonly tempDir = makeTempDir('wardline-relay-');
  readonly dataDir = this.tempDir.path;
  relay: RelayHandle | undefined;
  /** Everything the relay logged at info and above. */
  readonly logs: LogLine[] = [];
  private readonly clients: grpc.Client[] = [];
  private readonly logger = pino({ level: 'info' }, { write: (line: string) => this.logs.push(JSON.parse(line) as LogLine) });

  async start(): Promise<RelayHandle> {
    this.relay = await startRelay(parseRelayConfig(this.configure(testRelayConfig(this.dataDir))), { shutdownGraceMs: 2_000, ...this.options, logger: this.logger });
    return this.relay;
  }

  async restart(): Promise<RelayHandle> {
    await this.relay?.stop();
    return this.start();
  }

  get grpcAddress(): string {
    return `127.0.0.1:${this.relay!.grpcPort}`;
  }

  get httpBase(): string {
    return `http://127.0.0.1:${this.relay!.httpPort}`;
  }

  /** Opens a Replicate stream as a raw gRPC client. */
  agentStream(): AgentStream {
    const Client = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');
    const client = new Client(this.grpcAddress, grpc.credentials.createInsecure());
    this.clients.push(client);
    const call = (client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate();
    return new AgentStream(call);
  }

  /** Calls Feeds.Subscribe as a raw gRPC client with `authorization: Bearer <key>`. */
  subscribe(key: string, request: SubscribeFields): Subscription {
    const Client = grpc.makeGenericClientConstructor(FeedsService, 'Feeds');
    const client = new Client(this.grpcAddress, grpc.credentials.createInsecure());
    this.clients.push(client);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${key}`);
    const call = (
      client as unknown as { subscribe(request: SubscribeRequest, metadata: grpc.Metadata): grpc.ClientReadableStream<FeedEvent> }
    ).subscribe(pb.SubscribeRequest.create(request), metadata);
    return new Subscription(call);
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.close();
    await this.relay?.stop();
    this.tempDir.remove();
  }
}

/** One event of an InboundDelivery, as decoded. */
export type InboundEventMessage = NonNullable<NonNullable<RelayMessage['inboundDelivery']>['events']>[number];

/** Messages from a server stream, awaited one at a time, plus the final status. */
class Inbox<T> {
  private readonly messages: T[] = [];
  private readonly waiters: ((message: T) => void)[] = [];
  readonly status: Promise<grpc.StatusObject>;

  constructor(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>) {
    call.on('data', (message: T) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(message);
      else this.messages.push(message);
    });
    // grpc-js reports a non-OK status both as 'error' and as 'status'; the status is what tests look at.
    call.on('error', () => {});
    this.status = new Promise((resolve) => call.on('status', resolve));
  }

  /** The next message, or a rejection naming the status if the stream ends first. */
  next(timeoutMs = 3_000): Promise<T> {
    const queued = this.messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (message: T) => {
        clearTimeout(timer);
        resolve(message);
      };
      const giveUp = (reason: string) => {
        const index = this.waiters.indexOf(waiter);
        if (index < 0) return; // already answered
        this.waiters.splice(index, 1);
        clearTimeout(timer);
        reject(new Error(reason));
      };
      const timer = setTimeout(() => giveUp(`no message within ${timeoutMs} ms`), timeoutMs);
      void this.status.then((s) => giveUp(`stream ended (${grpc.status[s.code]}: ${s.details}) while a message was awaited`));
      this.waiters.push(waiter);
    });
  }

  /** Messages received and not yet taken. */
  get pending(): number {
    return this.messages.length;
  }

  /** Messages received, not yet taken, that `test` passes. */
  count(test: (message: T) => boolean): number {
    return this.messages.filter(test).length;
  }
}

export class AgentStream {
  private readonly inbox: Inbox<RelayMessage>;

  constructor(readonly call: grpc.ClientDuplexStream<AgentMessage, RelayMessage>) {
    this.inbox = new Inbox(call);
  }

  get status(): Promise<grpc.StatusObject> {
    return this.inbox.status;
  }

  hello(hospitalId: 'h1' | 'h2', feeds: string[], overrides: { secret?: string; protocolVersion?: number; inboundChannels?: InboundChannelDeclaration[] } = {}): void {
    this.call.write(
      pb.AgentMessage.create({
        hello: {
          protocolVersion: overrides.protocolVersion ?? PROTOCOL_VERSION,
          hospitalId,
          agentId: `${hospitalId}-agent`,
          secret: overrides.secret ?? SECRETS[hospitalId],
          feeds,
          agentVersion: '0.0.0-test',
          inboundChannels: overrides.inboundChannels ?? [],
        },
      }),
    );
  }

  /** InboundAck: the agent journaled `channel` through `throughSeq`. */
  ackInbound(channel: string, throughSeq: number): void {
    this.call.write(pb.AgentMessage.create({ inboundAck: { channel, throughSeq } }));
  }

  /** InboundReceipt, as an agent sends it (ledger head left empty). */
  sendReceipt(receipt: InboundReceipt): void {
    this.call.write(pb.AgentMessage.create({ inboundReceipt: receipt }));
  }

  /** Messages passed over by nextOf (e.g. InboundBacklog between deliveries), in arrival order. */
  readonly passedOver: RelayMessage[] = [];

  /** The next message with `body`; others before it are kept in passedOver. */
  async nextOf(body: NonNullable<RelayMessage['body']>, timeoutMs = 3_000): Promise<RelayMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.next(Math.max(1, deadline - Date.now()));
      if (message.body === body) return message;
      this.passedOver.push(message);
    }
  }

  /**
   * Every inbound event delivered until none came for `quietMs`, in arrival
   * order, with how many InboundDelivery messages carried them.
   */
  async deliveredUntilQuiet(quietMs = 400): Promise<{ events: InboundEventMessage[]; messages: number }> {
    const events: InboundEventMessage[] = [];
    let messages = 0;
    for (;;) {
      let message: RelayMessage;
      try {
        message = await this.next(quietMs);
      } catch (error) {
        if (/no message within/.test((error as Error).message)) return { events, messages };
        throw error;
      }
      if (message.body !== 'inboundDelivery') {
        this.passedOver.push(message);
        continue;
      }
      messages += 1;
      events.push(...(message.inboundDelivery!.events as InboundEventMessage[]));
    }
  }

  sendBatch(batch: ReturnType<typeof makeBatch>): void {
    this.call.write(pb.AgentMessage.create({ batch }));
  }

  /** Sends a batch and returns the relay's answer to it. */
  async exchange(batch: ReturnType<typeof makeBatch>): Promise<RelayMessage> {
    this.sendBatch(batch);
    return this.next();
  }

  next(timeoutMs?: number): Promise<RelayMessage> {
    return this.inbox.next(timeoutMs);
  }

  /** Messages received and not yet taken. */
  get pending(): number {
    return this.inbox.pending;
  }

  end(): void {
    this.call.end();
  }
}

/** The fields of a Feeds.Subscribe request (after absent unless given). */
export type SubscribeFields = NonNullable<Parameters<typeof pb.SubscribeRequest.create>[0]> & { feed: string };

/**
 * A Feeds.Subscribe call. next() hands over the next event, skipping (and
 * dropping) heartbeats, which follow streams send and most tests are not about;
 * nextMessage() hands over the next message of either kind.
 */
export class Subscription {
  private readonly inbox: Inbox<FeedEvent>;

  constructor(readonly call: grpc.ClientReadableStream<FeedEvent>) {
    this.inbox = new Inbox(call);
  }

  get status(): Promise<grpc.StatusObject> {
    return this.inbox.status;
  }

  /** The next event (heartbeats before it dropped). */
  async next(timeoutMs?: number): Promise<FeedEvent> {
    for (;;) {
      const message = await this.inbox.next(timeoutMs);
      if (!message.heartbeat) return message;
    }
  }

  /** The next message, event or heartbeat. */
  nextMessage(timeoutMs?: number): Promise<FeedEvent> {
    return this.inbox.next(timeoutMs);
  }

  /** Events received and not yet taken. */
  get pending(): number {
    return this.inbox.count((message) => !message.heartbeat);
  }
}

/** A channel declaration as an agent of protocol 2 sends it in Hello. */
export function inboundChannel(name: string, overrides: Partial<InboundChannelDeclaration> = {}): InboundChannelDeclaration {
  return {
    name,
    defaultTtlMs: 2 * 60 * 60 * 1000,
    maxTtlMs: 7 * 24 * 60 * 60 * 1000,
    maxBodyBytes: 256 * 1024,
    contentTypes: ['json'],
    keyPath: '$.patient.id',
    requiredFields: [{ path: '$.patient.id', type: 'string' }],
    ...overrides,
  };
}

/**
 * A relay with its inbound store, built from the same parts startRelay builds
 * (feed store and SqliteInboundStore on one real relay.db in a temp dir, the
 * ReplicationService, a gRPC server on 127.0.0.1:0) and the status as
 * /v1/status builds it, for the downlink's raw-client tests.
 */
export class InboundTestRelay {
  private readonly tempDir = makeTempDir('wardline-relay-inbound-');
  readonly dataDir = this.tempDir.path;
  readonly logs: LogLine[] = [];
  private readonly logger = pino({ level: 'debug' }, { write: (line: string) => this.logs.push(JSON.parse(line) as LogLine) });
  private readonly clients: grpc.Client[] = [];
  private parts: { server: grpc.Server; feeds: SqliteFeedStore; replication: RelayReplicationService; metrics: RelayMetrics; startedAtMs: number } | undefined;
  inbound!: SqliteInboundStore;
  grpcPort = 0;

  constructor(private readonly options: { protocolVersion?: number; inboundBacklogIntervalMs?: number } = {}) {}

  async start(): Promise<this> {
    const file = relayDatabaseFile(this.dataDir);
    const feeds = SqliteFeedStore.open({ file });
    this.inbound = SqliteInboundStore.open({ file });
    const metrics = new RelayMetrics();
    const replication = new RelayReplicationService({
      store: feeds,
      inbound: this.inbound,
      hospitals: new HospitalAuth([
        { id: 'h1', secret: SECRETS.h1 },
        { id: 'h2', secret: SECRETS.h2 },
      ]),
      metrics,
      logger: this.logger,
      relayId: 'test-relay',
      maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
      now: Date.now,
      ...this.options,
    });
    const server = new grpc.Server();
    server.addService(replication.definition, replication.implementation);
    this.grpcPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))));
    this.parts = { server, feeds, replication, metrics, startedAtMs: Date.now() };
    registerRelayStatusMetrics(metrics.registry, () => this.status());
    return this;
  }

  /** Stops (streams drained, then UNAVAILABLE) and opens the same files again. */
  async restart(): Promise<this> {
    await this.stop();
    return this.start();
  }

  /** The status document as GET /v1/status builds it. */
  async status(): Promise<RelayStatus> {
    const { feeds, replication, startedAtMs } = this.parts!;
    return buildRelayStatus({
      relayId: 'test-relay',
      startedAtMs,
      nowMs: Date.now(),
      hospitals: [{ id: 'h1', name: 'Hospital One' }, { id: 'h2' }],
      agents: replication.connectedAgents(),
      feeds: await feeds.feedSizes(),
      ...(replication.offersInbound ? { inbound: (await replication.inboundStatus(['h1', 'h2']))! } : {}),
    });
  }

  async statusPage(): Promise<string> {
    return renderRelayStatusPage(await this.status());
  }

  metrics(): Promise<string> {
    return this.parts!.metrics.registry.metrics();
  }

  agentStream(): AgentStream {
    const Client = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');
    const client = new Client(`127.0.0.1:${this.grpcPort}`, grpc.credentials.createInsecure());
    this.clients.push(client);
    return new AgentStream((client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate());
  }

  /** Opens a stream, says Hello of protocol 2 with `channels` and returns it with its Welcome. */
  async connect(hospital: 'h1' | 'h2', channels: InboundChannelDeclaration[], overrides: { protocolVersion?: number; feeds?: string[] } = {}) {
    const stream = this.agentStream();
    const { feeds = [], ...rest } = overrides;
    stream.hello(hospital, feeds, { inboundChannels: channels, ...rest });
    const welcome = await stream.nextOf('welcome');
    return { stream, welcome: welcome.welcome! };
  }

  /** A vendor's write, straight into the store (the vendor API is tested on its own). */
  async write(hospital: string, channel: string, n: number, options: { bodyBytes?: number; key?: (i: number) => string; ttlMs?: number } = {}): Promise<InboundRecord[]> {
    const records: InboundRecord[] = [];
    for (let i = 0; i < n; i++) {
      const pad = options.bodyBytes ? 'x'.repeat(Math.max(0, options.bodyBytes - 40)) : '';
      const key = options.key?.(i) ?? `P${i % 7}`;
      const body = Buffer.from(JSON.stringify({ patient: { id: key }, pad }));
      const now = Date.now();
      const result = await this.inbound.write({
        hospital,
        channel,
        vendor: 'app',
        idempotencyKey: `${channel}-${now}-${i}-${Math.random()}`,
        contentType: 'json',
        body,
        key,
        receivedAtMs: now,
        expiresAtMs: now + (options.ttlMs ?? 60 * 60 * 1000),
      });
      if (result.kind !== 'created') throw new Error(`write ${i}: ${result.kind}`);
      records.push(result.record);
    }
    return records;
  }

  async stop(): Promise<void> {
    const parts = this.parts;
    if (!parts) return;
    this.parts = undefined;
    await parts.replication.closeAll();
    await new Promise<void>((resolve) => parts.server.tryShutdown(() => resolve()));
    await this.inbound.close();
    parts.feeds.close();
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.close();
    await this.stop();
    this.tempDir.remove();
  }
}

/** An event as an agent would journal it; the body is UTF-8 HL7 unless given. */
export function makeEvent(seq: number, overrides: Partial<JournalEvent> = {}): JournalEvent {
  return {
    seq,
    stream: 'adt',
    key: `P${1000 + seq}`,
    op: 'upsert',
    tsMs: Date.UTC(2024, 0, 1, 8, 0, 0) + seq * 1000,
    source: 'lis-mllp',
    contentType: 'hl7v2',
    body: Buffer.from(`MSH|^~\\&|LIS|H1|||20240101080000||ADT^A01|MSG${seq}|P|2.5\rPID|1||P${1000 + seq}`, 'utf8'),
    headers: { controlId: `MSG${seq}` },
    ...overrides,
  };
}

export function makeEvents(firstSeq: number, lastSeq: number): JournalEvent[] {
  const events: JournalEvent[] = [];
  for (let seq = firstSeq; seq <= lastSeq; seq++) events.push(makeEvent(seq));
  return events;
}

/** A Batch message for [firstSeq, lastSeq] carrying `events` (default: one per seq). */
export function makeBatch(
  feed: string,
  firstSeq: number,
  lastSeq: number,
  events: JournalEvent[] = makeEvents(firstSeq, lastSeq),
  codec: CodecName = 'gzip',
) {
  const encoded = encodeEvents(events, codec);
  return {
    feed,
    firstSeq,
    lastSeq,
    codec: encoded.codec,
    payload: encoded.payload,
    payloadSha256: encoded.payloadSha256,
    eventCount: events.length,
    uncompressedBytes: encoded.uncompressedBytes,
    policyVersion: 0,
  };
}

/** Opens a stream, says Hello and returns it with its Welcome. */
export async function connectAgent(relay: TestRelay, hospitalId: 'h1' | 'h2', feeds: string[]) {
  const stream = relay.agentStream();
  stream.hello(hospitalId, feeds);
  const welcome = await stream.next();
  if (welcome.body !== 'welcome') throw new Error(`expected Welcome, got ${welcome.body}`);
  return { stream, welcome: welcome.welcome! };
}

/** Offers `instance` to the relay over the agent's stream and sends each of its chunks whole, so a batch may then name it. */
export async function putInstance(stream: AgentStream, feed: string, instance: TestInstance): Promise<void> {
  stream.call.write(pb.AgentMessage.create({ blobOffer: offerOf(feed, instance) }));
  const have = await stream.next();
  if (have.blobHave?.error) throw new Error(`blob offer refused: ${have.blobHave.error}`);
  for (const [index, chunk] of instance.chunks.entries()) {
    stream.call.write(pb.AgentMessage.create({ blobPart: partOf(feed, instance, index, 0, chunk.length) }));
    const ack = await stream.next();
    if (ack.blobPartAck?.error) throw new Error(`blob part ${index} refused: ${ack.blobPartAck.error}`);
  }
}
