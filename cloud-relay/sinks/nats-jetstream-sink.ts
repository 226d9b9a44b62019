// The SinkPublisher on NATS JetStream (nats-server 2.9 or newer), one
// connection per configured sink.
//
// Failure modes handled:
//  1. NATS down at start or later: the first connect is retried at each of the
//     runner's backoffs; once connected, the client reconnects by itself. A
//     publish or a read meanwhile rejects with SinkUnavailableError after
//     publishTimeoutMs, and the runner backs off.
//  2. An ack lost (the server stored the message, the reply never came): the
//     publish rejects as unavailable; the runner reads the subject's last
//     message before publishing again (SinkPublisher.lastOnSubject), so the
//     message is not sent twice even when the duplicate window has passed.
//  3. Another publisher on the subject (a second relay process whose lease ran
//     out while it was paused): every publish carries
//     Nats-Expected-Last-Subject-Sequence; JetStream refuses it with 10071
//     "wrong last sequence" and the runner reconciles.
//  4. No stream captures the subject: the server answers "no responders"; that is
//     SinkRefusedError (the operator creates the stream), not a lost connection.
//
// What newer servers would add: 2.10 subject transforms (the stream could map
// `wardline.*.*` to any layout without the sink knowing) and per-stream
// metadata; 2.11 per-message TTL (Nats-TTL) and Nats-Expected-Last-Subject-Sequence-Subject
// for wildcard expectations; 2.12 atomic batch publish (a page of events
// stored all or nothing in one round trip, instead of one ack per event).
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, headers as natsHeaders, NoRespondersError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { SinkRefusedError, SinkSubjectMovedError, SinkUnavailableError } from './errors.js';
import type { SinkConfig } from './sink-config.js';
import type { PublishedMessage, SinkMessage, SinkPublisher, SubjectTail } from './sink-publisher.js';

/** JetStream's err_code for a failed Nats-Expected-Last-Subject-Sequence (and the other expected-last checks). */
const WRONG_LAST_SEQUENCE = 10071;

export interface NatsJetStreamSinkOptions {
  config: SinkConfig;
  logger: Logger;
}

export class NatsJetStreamSink implements SinkPublisher {
  private connection: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private up = false;

  constructor(private readonly options: NatsJetStreamSinkOptions) {}

  get connected(): boolean {
    return this.up;
  }

  async lastOnSubject(subject: string): Promise<SubjectTail | null> {
    const { config } = this.options;
    await this.ready();
    try {
      const stored = await withTimeout(this.jsm!.streams.getMessage(config.stream, { last_by_subj: subject }), config.publishTimeoutMs);
      if (stored === null) return null;
      return { streamSeq: stored.seq, messageId: stored.header?.get('Nats-Msg-Id') || undefined };
    } catch (error) {
      throw this.classify(error, subject);
    }
  }

  async publish(message: SinkMessage): Promise<PublishedMessage> {
    const { config } = this.options;
    await this.ready();
    const h = natsHeaders();
    for (const [name, value] of Object.entries(message.headers)) h.set(name, value);
    try {
      const ack = await this.js!.publish(message.subject, message.payload, {
        msgID: message.messageId,
        headers: h,
        expect: { lastSubjectSequence: message.expectLastSubjectSeq, streamName: config.stream },
        timeout: config.publishTimeoutMs,
      });
      return { streamSeq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      throw this.classify(error, message.subject);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    this.connection = undefined;
    this.up = false;
    await connection?.close().catch(() => undefined);
  }

  /** Connects once (in the background, retried by the client); a caller waits at most publishTimeoutMs. */
  private async ready(): Promise<void> {
    if (this.closed) throw new SinkUnavailableError(this.options.config.name, new Error('the sink is stopped'));
    this.connecting ??= this.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    try {
      await withTimeout(this.connecting, this.options.config.publishTimeoutMs);
    } catch (error) {
      throw new SinkUnavailableError(this.options.config.name, error);
    }
  }

  private async connect(): Promise<void> {
    const { config, logger } = this.options;
    const connection = await connect({
      servers: config.servers,
      name: `wardline-sink-${config.name}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // A first connect that fails rejects (the runner backs off and calls again), so nothing keeps
      // retrying behind a stopped sink; once connected, the client reconnects by itself, and close() ends that.
      timeout: config.publishTimeoutMs,
      ...(config.credentialsFile ? { authenticator: credsAuthenticator(readFileSync(config.credentialsFile)) } : {}),
      ...(config.user && config.passwordFile ? { user: config.user, pass: readFileSync(config.passwordFile, 'utf8').replace(/\r?\n$/, '') } : {}),
      ...(config.caFile ? { tls: { caFile: config.caFile } } : {}),
    });
    if (this.closed) {
      await connection.close();
      throw new Error('the sink is stopped');
    }
    this.connection = connection;
    this.up = true;
    this.js = jetstream(connection);
    this.jsm = await jetstreamManager(connection, { checkAPI: false });
    logger.info({ sink: config.name, server: connection.getServer() }, 'sink connected to NATS');
    void (async () => {
      for await (const s of connection.status()) {
        if (s.type === 'disconnect') {
          this.up = false;
          logger.warn({ sink: config.name }, 'sink lost its NATS connection; reconnecting');
        } else if (s.type === 'reconnect') {
          this.up = true;
          logger.info({ sink: config.name }, 'sink reconnected to NATS');
        }
      }
    })().catch(() => undefined);
  }

  private classify(error: unknown, subject: string): Error {
    const sink = this.options.config.name;
    if (error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE) return new SinkSubjectMovedError(subject, error);
    if (error instanceof JetStreamApiError) return new SinkRefusedError(sink, subject, error);
    // The JetStream client reports "no responders" (no stream on the subject, or JetStream off) as its own error class.
    if (error instanceof NoRespondersError || (error instanceof Error && error.name === 'JetStreamNotEnabled')) {
      return new SinkRefusedError(sink, subject, new Error(`no JetStream stream captures ${subject} (create stream "${this.options.config.stream}" with subjects "${this.options.config.subjectPrefix}.>")`, { cause: error }));
    }
    if (error instanceof SinkUnavailableError || error instanceof TimeoutError) return error instanceof SinkUnavailableError ? error : new SinkUnavailableError(sink, error);
    return new SinkUnavailableError(sink, error);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
