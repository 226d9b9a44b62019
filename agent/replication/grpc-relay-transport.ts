// RelayTransport over one grpc-js bidirectional stream.
//
// Failure modes handled:
//  1. The relay is down or unreachable: open() rejects (connect phase) within
//     connectTimeoutMs instead of waiting for the channel forever; the TLS probe
//     that explains a failure (5) only spends what is left of that budget.
//  2. The relay accepts the stream but never answers Hello: handshake timeout.
//  3. A half-open link (packets silently dropped): HTTP/2 keepalive pings with a
//     timeout make grpc-js fail the call, which ends the session with an error.
//  4. The relay ends the stream with a status: onClose gets a RelayLinkError
//     carrying the status and whether it is retryable.
//  5. TLS keeps the link down (untrusted relay certificate, refused client
//     certificate, a plaintext peer): grpc-js only says it could not connect,
//     so one TLS probe names the cause and the agent.yaml key to change; such a
//     failure is not retryable soon (it needs an operator).
//  6. A channel whose connection died in a blackhole: grpc-js may keep trying
//     (or keep using) a connection that will never answer, for up to its own
//     20 s connect timeout, however soon the line returns. So every attempt gets
//     a fresh channel, and the channel is closed with the session or the failed
//     attempt it served: nothing stale is ever reused.
//  7. The caller gives up on an attempt (operator reconnect, stop): the signal
//     passed to open() closes the attempt's channel at once and open() rejects.
//  8. A line that accepts TCP and swallows bytes, and stays silent when it comes
//     back (a middlebox that forgot the connection without resetting it): the
//     attempt's connection will never become READY, however soon the line
//     returns, and waiting for connectTimeoutMs would add seconds to recovery.
//     So while no channel of an attempt is READY, a fresh one joins it every
//     CONNECT_HEDGE_INTERVAL_MS (at most MAX_CONNECTS_PER_ATTEMPT at once), and
//     the first to become READY serves the session; the others are closed.
//  9. Blob requests (BlobOffer, BlobPart) are answered out of band with the
//     batches' replies, matched by request id; a request still unanswered when
//     the session ends rejects (nothing waits forever on a dead stream), and an
//     answer naming no pending request is ignored (the request was abandoned).
//     `blobs` exists only when the relay's Welcome lists BLOB_FEATURE: an older
//     relay never sees a blob message.
// 10. Completeness proofs (`proofs`, only when Welcome lists PROOF_FEATURE): a
//     ProofRequest is matched to its ProofAnswer by request id; a repair batch
//     is told its own ack or nack, found by the order the relay answers a
//     feed's batches in, so the feed's window never sees an answer to a batch
//     it did not send. The session's end fails whatever is unanswered.
// 11. An older relay refuses protocol 2 (FAILED_PRECONDITION, WL_PROTOCOL_VERSION):
//     the end is reported as RelayProtocolTooOldError with the version the relay
//     speaks, so the replicator reconnects in it at once instead of backing off.
// 12. The downlink (`inbound`, only when the stream speaks 2 and Welcome lists
//     INBOUND_FEATURE): acks and receipts are small writes that need no answer
//     matching here (a receipt's answer names its id); an older relay never sees
//     one, and Hello in protocol 1 declares no inbound channel.
import * as grpc from '@grpc/grpc-js';
import { BLOB_FEATURE, ErrorCode, INBOUND_FEATURE, PROOF_FEATURE, PROTOCOL_VERSION, ReplicationService, pb, receiptFields, type AgentMessage, type RelayMessage } from '../../protocol/index.js';
import { BlobRefusedError, ProofRefusedError, RelayLinkError, RelayProtocolTooOldError } from './errors.js';
import { DEFAULT_TLS_PROBE_TIMEOUT_MS, explainConnectFailure } from './explain-connect-failure.js';
import type { RelayLinkTls } from './relay-link-tls.js';
import type {
  BlobChannel,
  BlobOfferAnswer,
  BlobOfferRequest,
  BlobPartAnswer,
  BlobPartRequest,
  ProofChannel,
  ProofQuestion,
  ProofReply,
  FeedControlAnswer,
  FeedControlRequest,
  HelloInfo,
  InboundChannel,
  NackReason,
  OutgoingReceipt,
  OutboundBatch,
  RelaySession,
  RelaySessionHandlers,
  RelayTransport,
  WelcomeInfo,
} from './relay-transport.js';
import { proofReplyOf, proofRequestMessage } from './proof-wire.js';
import { isRetryableStatus } from './retry-policy.js';
import type { InboundEventIn } from '../downlink/index.js';

const CODEC_TO_PROTO = {
  none: pb.Codec.CODEC_NONE,
  gzip: pb.Codec.CODEC_GZIP,
  deflate: pb.Codec.CODEC_DEFLATE,
  brotli: pb.Codec.CODEC_BROTLI,
} as const;

export interface GrpcRelayTransportOptions {
  /** host:port of the relay's gRPC endpoint. */
  address: string;
  /** Time allowed for the channel to connect, in ms. */
  connectTimeoutMs: number;
  /** Time allowed for the relay's Welcome after Hello, in ms. */
  handshakeTimeoutMs: number;
  /** Interval between HTTP/2 keepalive pings, in ms. */
  keepaliveTimeMs: number;
  /** How long a ping may go unanswered before the link is declared dead, in ms. */
  keepaliveTimeoutMs: number;
  /** Largest message the agent sends, in bytes. */
  maxSendBytes: number;
  /** TLS to the relay; undefined connects in plaintext (the config said allowPlaintext). */
  tls: RelayLinkTls | undefined;
  /** The relay's config path for error messages, e.g. `relays[0]`; default `relays[]`. */
  configKey?: string;
}

const ReplicationClient = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');

/**
 * How long a connection may stay short of READY before a fresh one joins the
 * attempt (failure mode 8), in ms. A live relay answers the HTTP/2 (and TLS)
 * handshake in a few round trips, well within this on a leased line.
 */
export const CONNECT_HEDGE_INTERVAL_MS = 1_000;
/** Connections one attempt may have under way at once (failure mode 8). */
export const MAX_CONNECTS_PER_ATTEMPT = 3;

export class GrpcRelayTransport implements RelayTransport {
  /** The channels of the attempt or session under way; each closed when it ends (failure modes 6, 8). */
  private readonly channels = new Set<grpc.Client>();

  constructor(private readonly options: GrpcRelayTransportOptions) {}

  private newChannel(): grpc.Client {
    const { tls } = this.options;
    const credentials = tls ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : grpc.credentials.createInsecure();
    return new ReplicationClient(this.options.address, credentials, {
      // Verify the relay against serverName (and send it as SNI and :authority) when the address is not the certificate's name.
      ...(tls?.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }),
      'grpc.keepalive_time_ms': this.options.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': this.options.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_send_message_length': this.options.maxSendBytes,
      'grpc.enable_retries': 0,
      // Reconnect pacing is the replicator's job (backoff with jitter), not the channel's:
      // a channel serves one attempt and is closed with it.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      // Keeps channels apart: grpc-js would otherwise share one subchannel (and its dead connection) between them.
      'grpc.use_local_subchannel_pool': 1,
    });
  }

  async open(hello: HelloInfo, handlers: RelaySessionHandlers, signal?: AbortSignal): Promise<RelaySession> {
    this.shutdown();
    const deadlineMs = Date.now() + this.options.connectTimeoutMs;
    const { client, outcome } = await this.connect(deadlineMs, signal);
    if (!client) {
      if (outcome === 'aborted') {
        throw new RelayLinkError(`connect attempt to relay at ${this.options.address} abandoned: ${abortReason(signal)}`, true, 'connect');
      }
      if (outcome === 'timeout') {
        throw new RelayLinkError(`cannot reach relay at ${this.options.address}: no answer within ${this.options.connectTimeoutMs} ms (relays[].connectTimeoutMs)`, true, 'connect');
      }
      // The connection failed (refused, reset, TLS): the probe gets what is left of the budget.
      const leftMs = deadlineMs - Date.now();
      const why =
        leftMs > 0
          ? await explainConnectFailure({
              address: this.options.address,
              tls: this.options.tls,
              configKey: this.options.configKey ?? 'relays[]',
              timeoutMs: Math.min(leftMs, DEFAULT_TLS_PROBE_TIMEOUT_MS),
              nowMs: Date.now(),
            })
          : undefined;
      if (why?.configProblem) throw new RelayLinkError(`cannot connect to relay at ${this.options.address}: ${why.reason}`, false, 'connect');
      throw new RelayLinkError(`cannot reach relay at ${this.options.address}: ${why?.reason ?? 'the connection failed'}`, true, 'connect');
    }
    const call = (client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate();
    return new GrpcRelaySession(call, hello, handlers, this.options, () => this.closeChannel(client), signal).handshake();
  }

  shutdown(): void {
    for (const client of this.channels) client.close();
    this.channels.clear();
  }

  private closeChannel(client: grpc.Client): void {
    client.close();
    this.channels.delete(client);
  }

  /**
   * Connects fresh channels until one is READY (it is returned, the others are
   * closed), one fails outright (refused, reset, TLS: a definite answer, and
   * retrying is the replicator's backoff's job), the deadline passes, or `signal`
   * aborts. A fresh channel joins every CONNECT_HEDGE_INTERVAL_MS while none is
   * READY (failure mode 8).
   */
  private async connect(deadlineMs: number, signal: AbortSignal | undefined): Promise<{ client?: grpc.Client; outcome: ChannelOutcome }> {
    // Ends the waits of the channels that lost, and follows the caller's signal.
    const attempt = new AbortController();
    const onAbort = (): void => attempt.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const started: grpc.Client[] = [];
    let hedge: NodeJS.Timeout | undefined;
    const result = await new Promise<{ client?: grpc.Client; outcome: ChannelOutcome }>((resolve) => {
      let waiting = 0;
      let done = false;
      const finish = (answer: { client?: grpc.Client; outcome: ChannelOutcome }): void => {
        if (done) return;
        done = true;
        resolve(answer);
      };
      const start = (): void => {
        const client = this.newChannel();
        started.push(client);
        this.channels.add(client);
        waiting++;
        void waitForChannel(client.getChannel(), deadlineMs, attempt.signal).then((outcome) => {
          waiting--;
          if (outcome === 'ready' || outcome === 'failed') finish(outcome === 'ready' ? { client, outcome } : { outcome });
          else if (waiting === 0) finish({ outcome });
        });
        if (started.length < MAX_CONNECTS_PER_ATTEMPT && Date.now() + CONNECT_HEDGE_INTERVAL_MS < deadlineMs) {
          hedge = setTimeout(() => done || start(), CONNECT_HEDGE_INTERVAL_MS);
        }
      };
      start();
    });
    clearTimeout(hedge);
    signal?.removeEventListener('abort', onAbort);
    attempt.abort();
    for (const client of started) if (client !== result.client) this.closeChannel(client);
    return result;
  }
}

type ChannelOutcome = 'ready' | 'failed' | 'timeout' | 'aborted';

/**
 * Waits until the channel is READY, a connection attempt failed (TRANSIENT_FAILURE:
 * refused, reset, TLS refused), the deadline passed, or `signal` aborted. A
 * failure ends the wait at once: retrying is the replicator's backoff's job.
 */
function waitForChannel(channel: ReturnType<grpc.Client["getChannel"]>, deadlineMs: number, signal: AbortSignal | undefined): Promise<ChannelOutcome> {
  const { READY, TRANSIENT_FAILURE, SHUTDOWN } = grpc.connectivityState;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: ChannelOutcome): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = (): void => settle('aborted');
    if (signal?.aborted) return settle('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    const check = (): void => {
      if (settled) return;
      const state = channel.getConnectivityState(true);
      if (state === READY) return settle('ready');
      if (state === TRANSIENT_FAILURE) return settle('failed');
      // Closed under us: only an abort does that, and it settled first.
      if (state === SHUTDOWN) return settle('aborted');
      if (Date.now() >= deadlineMs) return settle('timeout');
      channel.watchConnectivityState(state, deadlineMs, (error) => (error ? settle('timeout') : check()));
    };
    check();
  });
}

function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason.message : 'cancelled';
}

class GrpcRelaySession implements RelaySession {
  welcome!: WelcomeInfo;
  blobs?: BlobChannel;
  proofs?: ProofChannel;
  inbound?: InboundChannel;
  private closed = false;
  /**
   * Per feed, what each unanswered batch was, oldest first: the relay answers a
   * stream's batches strictly in order, so the ack or nack of a repair batch is
   * told to its sender and never to the feed's window (which never sent it).
   */
  private readonly unanswered = new Map<string, ({ repair: false } | { repair: true; settle: (error?: Error) => void })[]>();
  /** Proof requests awaiting the relay's answer, by request id. */
  private readonly pendingProofs = new Map<number, { settle: (message: RelayMessage) => void; fail: (error: Error) => void }>();
  /** Blob requests awaiting the relay's answer, by request id (failure mode 9). */
  private readonly pendingBlobs = new Map<number, { settle: (message: RelayMessage) => void; fail: (error: Error) => void }>();
  private nextRequestId = 1;
  /** send() calls waiting for 'drain'; a cancelled call never drains, so end() fails them. */
  private readonly drainWaiters = new Set<() => void>();

  constructor(
    private readonly call: grpc.ClientDuplexStream<AgentMessage, RelayMessage>,
    private readonly hello: HelloInfo,
    private readonly handlers: RelaySessionHandlers,
    private readonly options: GrpcRelayTransportOptions,
    /** Closes the channel this session runs on: it serves no other. */
    private readonly closeChannel: () => void,
    /** Aborting it during the handshake abandons the attempt (failure mode 7). */
    private readonly signal: AbortSignal | undefined,
  ) {}

  handshake(): Promise<RelaySession> {
    return new Promise<RelaySession>((resolve, reject) => {
      let welcomed = false;
      const onAbort = (): void => {
        if (!welcomed) this.end(new RelayLinkError(`connect attempt to relay at ${this.options.address} abandoned: ${abortReason(this.signal)}`, true, 'handshake'));
      };
      if (this.signal?.aborted) queueMicrotask(onAbort);
      else this.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        this.end(new RelayLinkError(`relay at ${this.options.address} sent no Welcome within ${this.options.handshakeTimeoutMs} ms`, true, 'handshake'));
      }, this.options.handshakeTimeoutMs);

      this.call.on('data', (message: RelayMessage) => {
        if (!welcomed) {
          if (!message.welcome) {
            this.end(new RelayLinkError('relay answered Hello with something other than Welcome', true, 'handshake'));
            return;
          }
          welcomed = true;
          clearTimeout(timer);
          this.signal?.removeEventListener('abort', onAbort);
          this.welcome = toWelcomeInfo(message.welcome);
          if (this.welcome.features?.has(BLOB_FEATURE)) this.blobs = { offer: (r) => this.offer(r), sendPart: (r) => this.sendPart(r) };
          if (this.welcome.features?.has(PROOF_FEATURE)) this.proofs = { ask: (q) => this.ask(q), repair: (b) => this.repair(b) };
          if (this.welcome.protocolVersion >= 2 && this.welcome.features?.has(INBOUND_FEATURE)) {
            this.inbound = { ack: (channel, throughSeq) => this.inboundAck(channel, throughSeq), sendReceipt: (receipt) => this.sendReceipt(receipt) };
          }
          resolve(this);
          return;
        }
        if ((message.ack || message.nack) && this.answeredRepair(message)) return;
        if (message.ack) this.handlers.onAck(message.ack.feed ?? '', Number(message.ack.highWaterSeq ?? 0), Boolean(message.ack.duplicate));
        else if (message.proofAnswer) this.answerProof(message);
        else if (message.nack) this.handlers.onNack(message.nack.feed ?? '', Number(message.nack.expectedSeq ?? 0), message.nack.detail ?? '', nackReason(message.nack.reason));
        else if (message.blobHave || message.blobPartAck) this.answerBlob(message);
        else if (message.revoked || message.reinstated || message.purged) this.handlers.onControlAnswer?.(toControlAnswer(message));
        else if (message.inboundDelivery) this.handlers.onInboundDelivery?.((message.inboundDelivery.events ?? []).map(toInboundEvent));
        else if (message.receiptAck) {
          const a = message.receiptAck;
          this.handlers.onReceiptAck?.({ id: a.id ?? '', final: Boolean(a.final), outcome: a.outcome ?? '', error: a.error ?? '' });
        } else if (message.inboundBacklog) {
          this.handlers.onInboundBacklog?.(
            (message.inboundBacklog.channels ?? []).map((c) => {
              const oldest = Number(c.oldestReceivedAtMs ?? 0);
              return { channel: c.channel ?? '', waiting: Number(c.waiting ?? 0), oldestReceivedAtMs: oldest > 0 ? oldest : null };
            }),
          );
        } else if (message.vendorProgress) {
          this.handlers.onVendorProgress?.(
            (message.vendorProgress.reads ?? []).map((r) => ({ feed: r.feed ?? '', vendor: r.vendor ?? '', readThroughSeq: Number(r.readThroughSeq ?? 0), readAtMs: Number(r.readAtMs ?? 0) })),
          );
        }
      });
      this.call.on('error', (error: grpc.ServiceError) => {
        const phase = welcomed ? 'stream' : 'handshake';
        const tooOld = relayProtocolTooOld(error, this.options.address);
        if (tooOld) return this.end(tooOld);
        this.end(new RelayLinkError(`relay stream ended: ${error.details || error.message}`, isRetryableStatus(error.code), phase, { cause: error }));
      });
      this.call.on('end', () => this.end(new RelayLinkError('relay ended the stream', true, welcomed ? 'stream' : 'handshake')));
      this.onEnd = (error) => {
        clearTimeout(timer);
        this.signal?.removeEventListener('abort', onAbort);
        if (!welcomed) reject(error ?? new RelayLinkError('stream closed during handshake', true, 'handshake'));
      };

      const protocolVersion = this.hello.protocolVersion ?? PROTOCOL_VERSION;
      // Protocol 1 has no downlink: a relay of 1 must never see a field it does not know.
      const inboundChannels = protocolVersion >= 2 ? (this.hello.inboundChannels ?? []) : [];
      this.call.write(
        pb.AgentMessage.create({
          hello: {
            protocolVersion,
            hospitalId: this.hello.hospitalId,
            agentId: this.hello.agentId,
            agentVersion: this.hello.agentVersion,
            secret: this.hello.secret,
            feeds: this.hello.feeds,
            wantsVendorProgress: true,
            inboundChannels: inboundChannels.map((c) => ({
              name: c.name,
              defaultTtlMs: c.defaultTtlMs,
              maxTtlMs: c.maxTtlMs,
              maxBodyBytes: c.maxBodyBytes,
              contentTypes: [...c.contentTypes],
              keyPath: c.keyPath,
              requiredFields: c.requiredFields.map((f) => ({ path: f.path, type: f.type })),
            })),
          },
        }),
      );
    });
  }

  private onEnd: (error: Error | undefined) => void = () => {};

  send(batch: OutboundBatch): Promise<void> {
    if (this.closed) return Promise.reject(new RelayLinkError('session is closed', true, 'stream'));
    if (!batch.repair) this.expectAnswer(batch.feed, { repair: false });
    const ready = this.call.write(
      pb.AgentMessage.create({
        batch: {
          feed: batch.feed,
          firstSeq: batch.firstSeq,
          lastSeq: batch.lastSeq,
          codec: CODEC_TO_PROTO[batch.codec],
          payload: batch.payload,
          payloadSha256: batch.payloadSha256,
          eventCount: batch.eventCount,
          uncompressedBytes: batch.uncompressedBytes,
          policyVersion: batch.policyVersion,
          journalHeadSeq: batch.journalHeadSeq ?? 0,
          completeThroughSeq: batch.completeThroughSeq ?? 0,
          ...(batch.ledgerHead ? { ledgerHead: batch.ledgerHead, ledgerIndex: batch.ledgerIndex ?? 0 } : {}),
          ...(batch.repair ? { repair: true } : {}),
        },
      }),
    );
    if (ready) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        this.drainWaiters.delete(onClosed);
        resolve();
      };
      const onClosed = (): void => {
        this.call.off('drain', onDrain);
        reject(new RelayLinkError('session closed while a batch waited for the link to take it', true, 'stream'));
      };
      this.drainWaiters.add(onClosed);
      this.call.once('drain', onDrain);
    });
  }

  sendControl(request: FeedControlRequest): void {
    if (this.closed) return; // the replicator sends it again on the next stream
    const body = { feed: request.feed, reason: request.reason, ...(request.ledgerHead ? { ledgerHead: request.ledgerHead, ledgerIndex: request.ledgerIndex ?? 0 } : {}) };
    // Small and rare: written without waiting for 'drain'.
    if (request.kind === 'purge') {
      this.call.write(pb.AgentMessage.create({ purge: { ...body, requestedBy: request.requestedBy ?? '' } }));
      return;
    }
    this.call.write(pb.AgentMessage.create(request.kind === 'revoke' ? { revoke: body } : { reinstate: body }));
  }

  close(reason?: Error): void {
    this.end(reason);
  }

  // Small writes without waiting for 'drain': at most one ack per delivery and one
  // receipt per decision, bounded by the relay's window.
  private inboundAck(channel: string, throughSeq: number): void {
    if (this.closed) return; // the relay resends what is unacked on the next stream, and the agent acks it again
    this.call.write(pb.AgentMessage.create({ inboundAck: { channel, throughSeq } }));
  }

  private sendReceipt(receipt: OutgoingReceipt): void {
    if (this.closed) return; // the outbox keeps it; it is resent after the next Welcome
    this.call.write(
      pb.AgentMessage.create({
        inboundReceipt: {
          ...receiptFields(receipt),
          ...(receipt.ledgerHead ? { ledgerHead: receipt.ledgerHead, ledgerIndex: receipt.ledgerIndex ?? 0 } : {}),
        },
      }),
    );
  }

  private expectAnswer(feed: string, entry: { repair: false } | { repair: true; settle: (error?: Error) => void }): void {
    const queue = this.unanswered.get(feed) ?? [];
    queue.push(entry);
    this.unanswered.set(feed, queue);
  }

  /** Takes the oldest unanswered batch of the ack's or nack's feed; true when it was a repair (its sender is told). */
  private answeredRepair(message: RelayMessage): boolean {
    const feed = (message.ack ?? message.nack)?.feed ?? '';
    const entry = this.unanswered.get(feed)?.shift();
    if (!entry?.repair) return false;
    entry.settle(message.nack ? new ProofRefusedError(`relay refused the repair of feed ${feed}: ${message.nack.detail ?? ''}`) : undefined);
    return true;
  }

  /** Sends a repair batch; resolves on its ack (see `unanswered`). */
  private repair(batch: OutboundBatch): Promise<void> {
    if (this.closed) return Promise.reject(new RelayLinkError('session is closed', true, 'stream'));
    return new Promise<void>((resolve, reject) => {
      this.expectAnswer(batch.feed, { repair: true, settle: (error) => (error ? reject(error) : resolve()) });
      this.send({ ...batch, repair: true }).catch(reject);
    });
  }

  private ask(question: ProofQuestion): Promise<ProofReply> {
    if (this.closed) return Promise.reject(new RelayLinkError('session is closed', true, 'stream'));
    const requestId = this.nextRequestId++;
    return new Promise<ProofReply>((resolve, reject) => {
      this.pendingProofs.set(requestId, {
        settle: (message) => {
          const answer = message.proofAnswer!;
          if (answer.error) {
            reject(new ProofRefusedError(`relay refused the proof request [${question.fromSeq}, ${question.toSeq}] of feed ${question.feed}: ${answer.error}`));
            return;
          }
          resolve(proofReplyOf(answer, question));
        },
        fail: reject,
      });
      this.call.write(proofRequestMessage(requestId, question));
    });
  }

  private answerProof(message: RelayMessage): void {
    const requestId = Number(message.proofAnswer?.requestId ?? 0);
    const pending = this.pendingProofs.get(requestId);
    if (!pending) return;
    this.pendingProofs.delete(requestId);
    pending.settle(message);
  }

  private offer(request: BlobOfferRequest): Promise<BlobOfferAnswer> {
    const { manifest } = request;
    return this.blobRequest(
      (requestId) => ({
        blobOffer: {
          requestId,
          feed: request.feed,
          instanceSha256: Buffer.from(manifest.sha256, 'hex'),
          size: manifest.size,
          chunks: manifest.chunks.map((c) => ({ sha256: Buffer.from(c.sha256, 'hex'), size: c.size })),
        },
      }),
      (message) => {
        const have = message.blobHave;
        if (!have) throw new BlobRefusedError(`relay answered the offer of instance ${manifest.sha256} with a part acknowledgement`);
        if (have.error) throw new BlobRefusedError(`relay refused instance ${manifest.sha256} of feed ${request.feed}: ${have.error}`);
        const partial = have.partialBytes ?? [];
        return { complete: Boolean(have.complete), missing: (have.missing ?? []).map((index, i) => ({ index, partialBytes: partial[i] ?? 0 })), dedupedBytes: Number(have.dedupedBytes ?? 0) };
      },
    );
  }

  private sendPart(request: BlobPartRequest): Promise<BlobPartAnswer> {
    return this.blobRequest(
      (requestId) => ({
        blobPart: {
          requestId,
          feed: request.feed,
          chunkSha256: Buffer.from(request.chunkSha256, 'hex'),
          chunkSize: request.chunkSize,
          offset: request.offset,
          data: request.data,
        },
      }),
      (message) => {
        const ack = message.blobPartAck;
        if (!ack) throw new BlobRefusedError(`relay answered a part of chunk ${request.chunkSha256} with an offer's answer`);
        const received = ack.received ?? 0;
        if (ack.error) throw new BlobRefusedError(`relay refused the part of chunk ${request.chunkSha256} at offset ${request.offset}: ${ack.error}`, received);
        return { received, stored: Boolean(ack.stored) };
      },
    );
  }

  /**
   * Writes one blob request and resolves with the relay's answer to its id.
   * Written without waiting for 'drain': parts are ≤ 64 KiB and the uplink's
   * in-flight cap bounds how many are unanswered, so the stream's buffer stays small.
   */
  private blobRequest<T>(build: (requestId: number) => Parameters<typeof pb.AgentMessage.create>[0], read: (message: RelayMessage) => T): Promise<T> {
    if (this.closed) return Promise.reject(new RelayLinkError('session is closed', true, 'stream'));
    const requestId = this.nextRequestId++;
    return new Promise<T>((resolve, reject) => {
      this.pendingBlobs.set(requestId, {
        settle: (message) => {
          try {
            resolve(read(message));
          } catch (error) {
            reject(error as Error);
          }
        },
        fail: reject,
      });
      this.call.write(pb.AgentMessage.create(build(requestId)));
    });
  }

  private answerBlob(message: RelayMessage): void {
    const requestId = Number((message.blobHave ?? message.blobPartAck)?.requestId ?? 0);
    const pending = this.pendingBlobs.get(requestId);
    if (!pending) return;
    this.pendingBlobs.delete(requestId);
    pending.settle(message);
  }

  private end(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.call.cancel();
    this.closeChannel();
    for (const fail of this.drainWaiters) fail();
    this.drainWaiters.clear();
    const pending = [...this.pendingBlobs.values()];
    this.pendingBlobs.clear();
    for (const request of pending) request.fail(new RelayLinkError('session closed before the relay answered a blob request', true, 'stream', { cause: error }));
    const proofs = [...this.pendingProofs.values()];
    this.pendingProofs.clear();
    for (const request of proofs) request.fail(new RelayLinkError('session closed before the relay answered a proof request', true, 'stream', { cause: error }));
    for (const queue of this.unanswered.values()) {
      for (const entry of queue) if (entry.repair) entry.settle(new RelayLinkError('session closed before the relay answered a repair batch', true, 'stream', { cause: error }));
    }
    this.unanswered.clear();
    this.onEnd(error);
    this.handlers.onClose(error);
  }
}

function toWelcomeInfo(welcome: NonNullable<RelayMessage['welcome']>): WelcomeInfo {
  return {
    relayId: welcome.relayId ?? '',
    protocolVersion: welcome.protocolVersion ?? 0,
    highWater: new Map((welcome.positions ?? []).map((p) => [p.feed ?? '', Number(p.highWaterSeq ?? 0)])),
    revoked: new Set((welcome.positions ?? []).filter((p) => p.revoked).map((p) => p.feed ?? '')),
    maxBatchBytes: welcome.maxBatchBytes ?? 0,
    features: new Set(welcome.features ?? []),
  };
}

function toInboundEvent(e: NonNullable<NonNullable<NonNullable<RelayMessage["inboundDelivery"]>["events"]>[number]>): InboundEventIn {
  return {
    id: e.id ?? '',
    channel: e.channel ?? '',
    channelSeq: Number(e.channelSeq ?? 0),
    key: e.key ?? '',
    contentType: e.contentType ?? '',
    body: Buffer.from(e.body ?? new Uint8Array()),
    vendor: e.vendor ?? '',
    idempotencyKey: e.idempotencyKey ?? '',
    receivedAtMs: Number(e.receivedAtMs ?? 0),
    expiresAtMs: Number(e.expiresAtMs ?? 0),
  };
}

/**
 * The relay refused the agent's protocol version because it is older (failure
 * mode 11): FAILED_PRECONDITION with WL_PROTOCOL_VERSION (trailer or details)
 * and "this relay speaks N" or "N to M" in the message. Anything else: undefined.
 */
export function relayProtocolTooOld(error: grpc.ServiceError, address: string): RelayProtocolTooOldError | undefined {
  if (error.code !== grpc.status.FAILED_PRECONDITION) return undefined;
  const trailer = error.metadata?.get('wardline-error-code')?.[0];
  const details = error.details || error.message;
  if (trailer !== ErrorCode.PROTOCOL_VERSION && !details.includes(ErrorCode.PROTOCOL_VERSION)) return undefined;
  const spoken = /this relay speaks (\d+)(?: to (\d+))?/.exec(details);
  if (!spoken) return undefined;
  const relayVersion = Number(spoken[2] ?? spoken[1]);
  if (!(relayVersion >= 1 && relayVersion < PROTOCOL_VERSION)) return undefined;
  return new RelayProtocolTooOldError(relayVersion, `relay at ${address} speaks an older replication protocol version (${relayVersion}): ${details}`, { cause: error });
}

function nackReason(reason: number | null | undefined): NackReason {
  if (reason === pb.NackReason.NACK_REASON_GAP) return 'gap';
  if (reason === pb.NackReason.NACK_REASON_REVOKED) return 'revoked';
  if (reason === pb.NackReason.NACK_REASON_BLOB_INCOMPLETE) return 'blob-incomplete';
  return 'unspecified';
}

function toControlAnswer(message: RelayMessage): FeedControlAnswer {
  if (message.purged) {
    const p = message.purged;
    return { kind: 'purge', feed: p.feed ?? '', receipt: p.receipt ?? '', receiptSignature: p.receiptSignature ?? '', error: p.error ?? '' };
  }
  if (message.revoked) {
    const r = message.revoked;
    return {
      kind: 'revoke',
      feed: r.feed ?? '',
      eventsDeleted: Number(r.eventsDeleted ?? 0),
      bytesDeleted: Number(r.bytesDeleted ?? 0),
      highWaterSeq: Number(r.highWaterSeq ?? 0),
      revokedAtMs: Number(r.revokedAtMs ?? 0),
      alreadyRevoked: Boolean(r.alreadyRevoked),
    };
  }
  const r = message.reinstated!;
  return { kind: 'reinstate', feed: r.feed ?? '', highWaterSeq: Number(r.highWaterSeq ?? 0), wasRevoked: Boolean(r.wasRevoked) };
}
