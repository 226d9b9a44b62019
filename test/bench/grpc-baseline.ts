// The transport baseline for "replication events/s, agent journal to relay
// durable ack": the same batches the agent would send, encoded and compressed
// before the clock starts, streamed over a bare grpc-js Replicate call to a
// server that answers every Batch with an Ack at once.
//
// It pays what the real path pays for the transport and nothing else: the same
// service definition and (de)serializers from protocol/, one AgentMessage per
// Batch built at send time the way the agent's GrpcRelaySession builds it (with
// a ledger head, as the agent always has its egress ledger), HTTP/2 over
// loopback TCP with the agent's channel options, the agent's window of batches
// in flight, and one RelayMessage Ack per Batch decoded by the client. It leaves
// out the journal read, the policy, compression, the egress ledger's fsync, and
// on the relay the checksum, decompression and storage.
//
// The server runs in a worker_threads Worker by default, because in the real
// bench the agent and the relay are separate processes, each with its own event
// loop: a Worker gives each end its own loop and V8 isolate as two processes
// would (both ends' CPU work can overlap, and every ack crosses threads), without
// a second entry point to build and start. On one shared loop the server's
// decode and ack queue behind the client's encode and write but no ack ever
// waits for another thread to be scheduled, so which way it errs depends on the
// machine. `server: 'same-thread'` measures it anyway, and works where this file
// cannot be loaded as a worker (test runners that transform TypeScript in-process).
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  DEFAULT_BATCH_MAX_BYTES,
  DEFAULT_BATCH_MAX_EVENTS,
  DEFAULT_KEEPALIVE_TIME_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_IN_FLIGHT_BATCHES,
} from '../../agent/config.js';
import { maxSendBytesFor } from '../../agent/replication/replication-config.js';
import {
  DEFAULT_MAX_BATCH_BYTES,
  PROTOCOL_VERSION,
  ReplicationService,
  WARDLINE_VERSION,
  encodeEventsAsync,
  pb,
  sha256,
  type AgentMessage,
  type CodecName,
  type JournalEvent,
  type RelayMessage,
} from '../../protocol/index.js';

/** The agent's codec unless configured otherwise (agent/config.ts, replication.codec). */
export const DEFAULT_BASELINE_CODEC: CodecName = 'brotli';

/** gRPC puts a 1-byte compressed flag and a 4-byte length before every message. */
const GRPC_MESSAGE_PREFIX_BYTES = 5;
/** What the relay allows above maxBatchBytes for a Batch's envelope (cloud-relay/relay-server.ts). */
const ENVELOPE_HEADROOM_BYTES = 64 * 1024;
const SERVER_ROLE = 'wardline-bare-grpc-relay';
/** Batches compressed at once before timing: libuv's default thread pool size. */
const PRE_ENCODE_CONCURRENCY = 4;
/** How long the server waits for open calls to finish when closing, in ms. */
const SHUTDOWN_GRACE_MS = 1_000;

/** One Batch exactly as the agent would hand it to the transport. */
export interface PreEncodedBatch {
  feed: string;
  firstSeq: number;
  lastSeq: number;
  /** The protobuf Codec value. */
  codec: number;
  /** Compressed EventList. */
  payload: Buffer;
  payloadSha256: Buffer;
  eventCount: number;
  /** Size of the EventList before compression, in bytes. */
  uncompressedBytes: number;
  /** 0: events leave as journaled. */
  policyVersion: number;
  /** Stands in for the egress ledger head the agent attaches (32 bytes, like the real one). */
  ledgerHead: Buffer;
  ledgerIndex: number;
}

export interface PreEncodeOptions {
  feed: string;
  /** Most events in one batch; default the agent's batchMaxEvents (2000). */
  eventsPerBatch?: number;
  /** A batch closes once its event bodies reach this many bytes; default the agent's batchMaxBytes (1 MiB). */
  maxBodyBytes?: number;
  /** Default brotli, as the agent. */
  codec?: CodecName;
}

/**
 * Cuts `events` (ascending seq, all of one feed) into batches the way the
 * agent's journal read does (at most eventsPerBatch events; closed by the event
 * that brings the bodies to maxBodyBytes) and encodes them with the agent's
 * codec, before any timing starts. wireBytes counts the gRPC messages that will
 * carry them: AgentMessage protobuf plus the 5-byte gRPC prefix, before HTTP/2
 * framing.
 *
 * The agent also caps a batch at a quarter of the uplink's in-flight cap times
 * the feed's observed compression ratio; with the default unlimited uplink that
 * only shrinks its very first batch, so it is left out here.
 */
export async function preEncodeBatches(
  events: readonly JournalEvent[],
  options: PreEncodeOptions,
): Promise<{ batches: PreEncodedBatch[]; wireBytes: number }> {
  const ranges = cutRanges(events, options.eventsPerBatch ?? DEFAULT_BATCH_MAX_EVENTS, options.maxBodyBytes ?? DEFAULT_BATCH_MAX_BYTES);
  const codec = options.codec ?? DEFAULT_BASELINE_CODEC;
  const batches: PreEncodedBatch[] = [];
  // A few at a time so compression keeps libuv's thread pool busy; the output is the same in any order.
  for (let i = 0; i < ranges.length; i += PRE_ENCODE_CONCURRENCY) {
    const group = ranges.slice(i, i + PRE_ENCODE_CONCURRENCY);
    const encoded = await Promise.all(group.map((range) => encodeEventsAsync(range.events, codec)));
    group.forEach((range, j) => {
      const payload = encoded[j]!;
      batches.push({
        feed: options.feed,
        firstSeq: range.firstSeq,
        lastSeq: range.lastSeq,
        codec: payload.codec,
        payload: payload.payload,
        payloadSha256: payload.payloadSha256,
        eventCount: range.events.length,
        uncompressedBytes: payload.uncompressedBytes,
        policyVersion: 0,
        ledgerHead: sha256(payload.payloadSha256),
        ledgerIndex: batches.length + 1,
      });
    });
  }
  let wireBytes = 0;
  for (const batch of batches) wireBytes += pb.AgentMessage.encode(batchMessage(batch)).finish().length + GRPC_MESSAGE_PREFIX_BYTES;
  return { batches, wireBytes };
}

/** The journal ranges the agent would read, one per batch: (previous lastSeq, lastSeq]. */
function cutRanges(events: readonly JournalEvent[], maxEvents: number, maxBodyBytes: number): { firstSeq: number; lastSeq: number; events: JournalEvent[] }[] {
  const ranges: { firstSeq: number; lastSeq: number; events: JournalEvent[] }[] = [];
  let afterSeq = (events[0]?.seq ?? 1) - 1;
  let current: JournalEvent[] = [];
  let bodyBytes = 0;
  for (const event of events) {
    const previous = current.length > 0 ? current[current.length - 1]!.seq : afterSeq;
    if (event.seq <= previous) throw new Error(`event seq ${event.seq} follows ${previous}: events must be in ascending seq order`);
    current.push(event);
    bodyBytes += event.body.length;
    // As Journal.readRange: the event that reaches either limit is the batch's last.
    if (current.length >= maxEvents || bodyBytes >= maxBodyBytes) {
      ranges.push({ firstSeq: afterSeq + 1, lastSeq: event.seq, events: current });
      afterSeq = event.seq;
      current = [];
      bodyBytes = 0;
    }
  }
  if (current.length > 0) ranges.push({ firstSeq: afterSeq + 1, lastSeq: current[current.length - 1]!.seq, events: current });
  return ranges;
}

/** The same AgentMessage the agent's GrpcRelaySession.send() builds for a batch. */
function batchMessage(batch: PreEncodedBatch): AgentMessage {
  return pb.AgentMessage.create({
    batch: {
      feed: batch.feed,
      firstSeq: batch.firstSeq,
      lastSeq: batch.lastSeq,
      codec: batch.codec,
      payload: batch.payload,
      payloadSha256: batch.payloadSha256,
      eventCount: batch.eventCount,
      uncompressedBytes: batch.uncompressedBytes,
      policyVersion: batch.policyVersion,
      ledgerHead: batch.ledgerHead,
      ledgerIndex: batch.ledgerIndex,
    },
  });
}

export interface BareGrpcOptions {
  /**
   * Batches awaiting an Ack at once; default the agent's maxInFlightBatches (4).
   * The agent's uplink also caps unacknowledged payload bytes (1 MiB when the
   * rate is unlimited); four brotli batches of HL7 stay far below it, so only
   * the batch count is modelled.
   */
  window?: number;
  /** Where the acking server runs; default 'worker' (see the top of this file). */
  server?: 'worker' | 'same-thread';
}

export interface BareGrpcResult {
  events: number;
  batches: number;
  /** First Batch written to last Ack received, in seconds. */
  seconds: number;
  eventsPerSecond: number;
  /** Compressed payload bytes sent. */
  payloadBytes: number;
  window: number;
}

/**
 * Streams `batches` over one Replicate call to a grpc-js server on 127.0.0.1:0
 * that answers Hello with Welcome and every Batch with an Ack at once (no
 * checksum, no decompression, no storage), keeping `window` batches in flight.
 * Measures first send to last ack; the handshake is not timed. Closes the call,
 * the channel and the server before resolving.
 */
export async function measureBareGrpcStream(batches: readonly PreEncodedBatch[], options: BareGrpcOptions = {}): Promise<BareGrpcResult> {
  const window = options.window ?? DEFAULT_MAX_IN_FLIGHT_BATCHES;
  if (!Number.isInteger(window) || window < 1) throw new Error(`window must be a positive integer, got ${window}`);
  const relay = options.server === 'same-thread' ? await startAckServer() : await startAckServerInWorker();
  try {
    return await streamBatches(`127.0.0.1:${relay.port}`, batches, window);
  } finally {
    await relay.close();
  }
}

const ReplicationClient = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');

async function streamBatches(address: string, batches: readonly PreEncodedBatch[], window: number): Promise<BareGrpcResult> {
  // The agent's channel options (agent/replication/grpc-relay-transport.ts, agent/replication/replication-config.ts).
  const client = new ReplicationClient(address, grpc.credentials.createInsecure(), {
    'grpc.keepalive_time_ms': DEFAULT_KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': DEFAULT_KEEPALIVE_TIMEOUT_MS,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_send_message_length': maxSendBytesFor(DEFAULT_BATCH_MAX_BYTES),
    'grpc.enable_retries': 0,
  });
  const call = (client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate();
  const signals = new SenderSignals();
  const ended = new Promise<void>((resolve, reject) => {
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) resolve();
      else reject(new Error(`bare relay stream ended with status ${status.code}: ${status.details}`));
    });
  });
  // Awaited only on the way out; a failure before then reaches the sender through signals.
  ended.catch(() => {});
  call.on('error', (error: Error) => signals.fail(error));
  call.on('end', () => signals.fail(new Error('bare relay ended the stream before every batch was acked')));

  const inFlight: PreEncodedBatch[] = [];
  let welcomed = false;
  let lastAckAt = 0;
  call.on('data', (message: RelayMessage) => {
    if (!welcomed) {
      welcomed = Boolean(message.welcome);
      if (welcomed) signals.notify();
      else signals.fail(new Error(`bare relay answered Hello with ${message.body ?? 'an empty message'}`));
      return;
    }
    const expected = inFlight.shift();
    const acked = Number(message.ack?.highWaterSeq ?? -1);
    if (!expected || acked !== expected.lastSeq) {
      signals.fail(new Error(`expected an ack of seq ${expected?.lastSeq ?? '(nothing in flight)'}, got ${message.body ?? 'an empty message'} ${acked}`));
      return;
    }
    lastAckAt = performance.now();
    signals.notify();
  });

  try {
    const feeds = [...new Set(batches.map((batch) => batch.feed))];
    call.write(pb.AgentMessage.create({ hello: { protocolVersion: PROTOCOL_VERSION, hospitalId: 'bench', agentId: 'bench', agentVersion: WARDLINE_VERSION, secret: 'bench', feeds } }));
    while (!welcomed) await signals.next();

    const startedAt = performance.now();
    let payloadBytes = 0;
    let events = 0;
    for (const batch of batches) {
      // As the agent's pump: wait for a free slot in the window, then for the link to take the message.
      while (inFlight.length >= window) await signals.next();
      inFlight.push(batch);
      payloadBytes += batch.payload.length;
      events += batch.eventCount;
      if (!call.write(batchMessage(batch))) {
        let drained = false;
        call.once('drain', () => {
          drained = true;
          signals.notify();
        });
        while (!drained) await signals.next();
      }
    }
    while (inFlight.length > 0) await signals.next();
    const seconds = batches.length === 0 ? 0 : (lastAckAt - startedAt) / 1000;

    call.end();
    await ended;
    return { events, batches: batches.length, seconds, eventsPerSecond: seconds > 0 ? events / seconds : 0, payloadBytes, window };
  } catch (error) {
    call.cancel();
    throw error;
  } finally {
    client.close();
  }
}

/** Wakes the sender when something it may wait for happened (Welcome, an ack, 'drain'), or fails it once the stream failed. */
class SenderSignals {
  private failure: Error | undefined;
  private waiter: { resolve(): void; reject(error: Error): void } | undefined;

  /** Resolves at the next notify(); rejects once fail() was called. */
  next(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  notify(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve();
  }

  /** The first failure is the one reported. */
  fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }
}

interface AckServer {
  port: number;
  close(): Promise<void>;
}

/** A Replication server that welcomes any Hello and acks every Batch as it arrives. */
async function startAckServer(): Promise<AckServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': DEFAULT_MAX_BATCH_BYTES + ENVELOPE_HEADROOM_BYTES });
  server.addService(ReplicationService, {
    replicate: (call: grpc.ServerDuplexStream<AgentMessage, RelayMessage>) => {
      call.on('data', (message: AgentMessage) => {
        if (message.batch) {
          const feed = message.batch.feed ?? '';
          call.write(pb.RelayMessage.create({ ack: { feed, highWaterSeq: Number(message.batch.lastSeq ?? 0), duplicate: false } }));
        } else if (message.hello) {
          const positions = (message.hello.feeds ?? []).map((feed) => ({ feed, highWaterSeq: 0 }));
          call.write(pb.RelayMessage.create({ welcome: { protocolVersion: PROTOCOL_VERSION, positions, maxBatchBytes: DEFAULT_MAX_BATCH_BYTES, relayId: 'bare' } }));
        }
      });
      call.on('end', () => call.end());
      // A client that cancels makes the call emit 'error'; the client reports its own failures.
      call.on('error', () => {});
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        // A client that vanished without closing its call would hold tryShutdown open.
        const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

type ServerThreadMessage = { kind: 'listening'; port: number } | { kind: 'failed'; reason: string };

async function startAckServerInWorker(): Promise<AckServer> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: SERVER_ROLE } });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const message = await new Promise<ServerThreadMessage>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the bare relay thread exited with code ${code} before listening`)));
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  if (message.kind === 'failed') {
    await worker.terminate();
    throw new Error(`the bare relay thread could not start: ${message.reason}`);
  }
  return {
    port: message.port,
    close: async () => {
      worker.postMessage('close');
      await exited;
    },
  };
}

/** The worker's side: serve until the parent says 'close', then let the thread end. */
async function serveInWorker(port: NonNullable<typeof parentPort>): Promise<void> {
  let server: AckServer;
  try {
    server = await startAckServer();
  } catch (error) {
    port.postMessage({ kind: 'failed', reason: (error as Error).message } satisfies ServerThreadMessage);
    port.close();
    return;
  }
  port.once('message', () => {
    void server.close().then(() => port.close());
  });
  port.postMessage({ kind: 'listening', port: server.port } satisfies ServerThreadMessage);
}

if (!isMainThread && parentPort && (workerData as { role?: unknown } | null)?.role === SERVER_ROLE) {
  void serveInWorker(parentPort);
}
