// `wardline feed tail`: the reference vendor consumer. Subscribes to a feed over
// gRPC from a cursor, prints each event as one NDJSON line (or a short text line),
// and with --follow keeps printing the live tail until interrupted. TLS by
// default (the system's CAs, or --ca); plaintext only with --plaintext.
//
// Failure modes handled:
//  1. The relay restarts or the link drops under --follow: reconnects with capped
//     exponential backoff (tail-reconnect.ts), resuming after the last cursor it
//     printed or heard in a heartbeat; an event at or below that cursor (a replay)
//     is never printed twice. --no-reconnect exits instead.
//  2. A refusal for good (auth, grant, unknown feed, cursor out of range, bad
//     request): the relay's status and message, exit 1, no retry.
//  3. Whatever ends it (SIGINT/SIGTERM, --limit, the end of the feed, an error):
//     "resume with --after N" on stderr, N the last cursor; with --commit the
//     cursor is committed for --consumer first (and every COMMIT_EVERY_EVENTS).
//  4. Heartbeats move the cursor but are never printed in NDJSON (a vendor's
//     parser sees events only); in text with --verbose, "idle, caught up at N".
import * as grpc from '@grpc/grpc-js';
import { FeedsService, fromFeedEventProto, pb, toVendorEventLine, type CommitRequest, type ConsumerPosition, type FeedEvent, type SubscribeRequest } from '../protocol/index.js';
import { ConfigError, checkKeyPair, readCertificateFile, readPrivateKeyFile } from '../runtime/index.js';
import { isTailReconnectable, TailReconnect } from './tail-reconnect.js';

export interface FeedTailOptions {
  relay: string;
  key: string;
  feed: string;
  /** The last seq already processed; absent: --after-time, the consumer's committed cursor, or 0. */
  after?: number;
  /** Start at the first event at or after this time (ms since the epoch); not with `after`. */
  afterTimeMs?: number;
  follow: boolean;
  /** Reconnect under --follow when the relay restarts or the link drops; default true. */
  reconnect?: boolean;
  hospital?: string;
  format: 'ndjson' | 'text';
  /** In text format, also print heartbeats. */
  verbose?: boolean;
  /** A named consumer: without `after`, resumes from its committed cursor. */
  consumer?: string;
  /** Commit the cursor under `consumer` at exit and every COMMIT_EVERY_EVENTS events. */
  commit?: boolean;
  streams?: string[];
  messageTypes?: string[];
  /** Stop after this many events (for scripts and tests). */
  limit?: number;
  /** PEM CA that issued the relay's certificate; default the system's trusted CAs. */
  ca?: string;
  /** PEM client certificate and key, for a relay that requires client certificates on gRPC. */
  clientCert?: string;
  clientKey?: string;
  /** The name the relay's certificate carries, when --relay dials another (an IP address). */
  serverName?: string;
  /** Connect without TLS, to a relay with allowPlaintext (local development). */
  plaintext?: boolean;
  /** Written to instead of process.stdout / process.stderr (tests). */
  out?: (line: string) => void;
  err?: (line: string) => void;
}

/** With --commit, the cursor is committed after this many events (and at exit). */
export const COMMIT_EVERY_EVENTS = 1000;

const FeedsClient = grpc.makeGenericClientConstructor(FeedsService, 'Feeds');

interface FeedsStub {
  subscribe(r: SubscribeRequest, m: grpc.Metadata): grpc.ClientReadableStream<FeedEvent>;
  commit(r: CommitRequest, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: ConsumerPosition) => void): void;
  getConsumer(r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: ConsumerPosition) => void): void;
  close(): void;
}

/** How one subscription ended. */
type Attempt = { kind: 'stopped' } | { kind: 'limit' } | { kind: 'end' } | { kind: 'error'; error: grpc.ServiceError; delivered: boolean };

export async function feedTailCommand(options: FeedTailOptions, signal?: AbortSignal): Promise<number> {
  const out = options.out ?? ((line: string) => void process.stdout.write(line));
  const err = options.err ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const client = new FeedsClient(options.relay, channelCredentials(options), channelOptions(options)) as unknown as FeedsStub;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${options.key}`);
  const reconnect = new TailReconnect();
  let cursor: number | undefined = options.after;
  let received = 0;
  let sinceCommit = 0;
  let commits: Promise<void> = Promise.resolve();

  const commit = (): Promise<void> => {
    if (!options.commit || options.consumer === undefined || cursor === undefined) return commits;
    const request = pb.CommitRequest.create({ feed: options.feed, hospitalId: options.hospital ?? '', consumer: options.consumer, cursor });
    const at = cursor;
    sinceCommit = 0;
    commits = commits.then(
      () =>
        new Promise<void>((resolve) => {
          client.commit(request, metadata, { deadline: Date.now() + 5000 }, (error) => {
            if (error) err(`commit of cursor ${at} for consumer ${options.consumer} failed: ${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`);
            resolve();
          });
        }),
    );
    return commits;
  };

  const subscribeOnce = (): Promise<Attempt> =>
    new Promise<Attempt>((resolve) => {
      const request: SubscribeRequest = pb.SubscribeRequest.create({
        feed: options.feed,
        follow: options.follow,
        hospitalId: options.hospital ?? '',
        consumer: options.consumer ?? '',
        streams: options.streams ?? [],
        messageTypes: options.messageTypes ?? [],
        ...(cursor !== undefined ? { after: cursor } : options.afterTimeMs !== undefined ? { afterTimeMs: options.afterTimeMs } : options.consumer === undefined ? { after: 0 } : {}),
      });
      const call = client.subscribe(request, metadata);
      let delivered = false;
      let outcome: Attempt | undefined;
      // A cancelled call reports both an error (CANCELLED) and an end; answer once.
      const settle = (attempt: Attempt): void => {
        if (outcome !== undefined) return;
        outcome = attempt;
        signal?.removeEventListener('abort', onAbort);
        resolve(attempt);
      };
      const onAbort = (): void => {
        settle({ kind: 'stopped' });
        call.cancel();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort);
      call.on('data', (message: FeedEvent) => {
        if (outcome !== undefined) return;
        delivered = true;
        reconnect.reset();
        if (message.heartbeat) {
          const at = Number(message.heartbeat.cursor);
          if (cursor === undefined || at > cursor) cursor = at;
          if (options.format === 'text' && options.verbose) {
            out(message.heartbeat.caughtUp ? `idle, caught up at ${at}\n` : `heartbeat at ${at}, high water ${Number(message.heartbeat.highWater)}\n`);
          }
          return;
        }
        const decoded = fromFeedEventProto(message);
        if (decoded === undefined) return;
        const { event, context } = decoded;
        // A replay after a reconnect: printed already.
        if (cursor !== undefined && event.seq <= cursor) return;
        cursor = event.seq;
        received++;
        sinceCommit++;
        if (options.format === 'text') {
          out(`${event.seq}\t${new Date(event.tsMs).toISOString()}\t${event.stream}\t${event.key}\t${event.op}\t${event.body.length} B\n`);
        } else {
          out(toVendorEventLine(event, context));
        }
        if (sinceCommit >= COMMIT_EVERY_EVENTS) void commit();
        if (options.limit !== undefined && received >= options.limit) {
          settle({ kind: 'limit' });
          call.cancel();
        }
      });
      call.on('error', (error: grpc.ServiceError) => {
        if (error.code === grpc.status.CANCELLED && outcome !== undefined) return;
        settle({ kind: 'error', error, delivered });
      });
      call.on('end', () => settle({ kind: 'end' }));
    });

  const finish = async (code: number, line: string): Promise<number> => {
    await commit();
    if (cursor === undefined && options.consumer !== undefined) cursor = await committedCursor(client, metadata, options);
    err(`${line}; resume with --after ${cursor ?? 0}`);
    client.close();
    return code;
  };

  for (;;) {
    const attempt = await subscribeOnce();
    if (attempt.kind === 'stopped') return finish(0, `stopped after ${received} events`);
    if (attempt.kind === 'limit') return finish(0, `stopped after ${received} events (--limit)`);
    const { follow } = options;
    const allowed = follow && options.reconnect !== false;
    if (attempt.kind === 'end') {
      // Without --follow the relay ends the stream at the head; with it, an end is the relay going away.
      if (!follow) return finish(0, `${received} events`);
      if (!allowed) return finish(1, `feed tail: the relay ended the stream after ${received} events`);
    } else {
      const { error } = attempt;
      const what = `${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`;
      if (!allowed || !isTailReconnectable(error.code)) {
        const hint = error.code === grpc.status.UNAVAILABLE ? connectHint(options, error.details || error.message) : '';
        return finish(1, `feed tail failed: ${what}${hint}`);
      }
      if (!attempt.delivered && reconnect.failures === 0) err(`feed tail: ${what}; reconnecting`);
    }
    const wait = reconnect.delayMs();
    const stopped = await sleep(wait, signal);
    if (stopped) return finish(0, `stopped after ${received} events`);
  }
}

/** The consumer's committed cursor, for the resume line when nothing was read; undefined when unknown. */
function committedCursor(client: FeedsStub, metadata: grpc.Metadata, options: FeedTailOptions): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = pb.ConsumerRequest.create({ feed: options.feed, hospitalId: options.hospital ?? '', consumer: options.consumer ?? '' });
    client.getConsumer(request, metadata, { deadline: Date.now() + 2000 }, (error, position) => resolve(error || !position ? undefined : Number(position.cursor)));
  });
}

/** Resolves true when the signal aborted first. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(true);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** TLS credentials from --ca/--client-cert/--client-key, or insecure with --plaintext. Throws ConfigError naming the option. */
function channelCredentials(options: FeedTailOptions): grpc.ChannelCredentials {
  if (options.plaintext) {
    if (options.ca || options.clientCert || options.clientKey) {
      throw new ConfigError('--plaintext connects without TLS; leave out --ca, --client-cert and --client-key', '(command line)', []);
    }
    return grpc.credentials.createInsecure();
  }
  const problems: string[] = [];
  const source = 'command line';
  const ca = options.ca === undefined ? undefined : readCertificateFile(options.ca, '--ca', source, problems);
  if ((options.clientCert === undefined) !== (options.clientKey === undefined)) problems.push('--client-cert and --client-key: give both or neither');
  const cert = options.clientCert === undefined ? undefined : readCertificateFile(options.clientCert, '--client-cert', source, problems);
  const key = options.clientKey === undefined ? undefined : readPrivateKeyFile(options.clientKey, '--client-key', source, problems);
  if (cert && key) checkKeyPair(cert, key, '--client-cert', '--client-key', source, problems);
  if (problems.length > 0) throw new ConfigError(`invalid options:\n  ${problems.join('\n  ')}`, '(command line)', problems);
  return grpc.credentials.createSsl(ca?.pem ?? null, key?.pem ?? null, cert?.pem ?? null);
}

function channelOptions(options: FeedTailOptions): grpc.ChannelOptions {
  return options.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': options.serverName, 'grpc.default_authority': options.serverName };
}

/** A hint after a connection failure that looks like a TLS mismatch. */
function connectHint(options: FeedTailOptions, details: string): string {
  if (options.plaintext) return '\n  (--plaintext reaches only a relay with allowPlaintext; a relay with tls needs --ca instead)';
  if (/certificate|self-signed|wrong version number|SSL|TLS/i.test(details)) {
    return '\n  (pass --ca with the CA that issued the relay\'s certificate, --server-name if --relay is not a name it carries, or --plaintext for a relay with allowPlaintext)';
  }
  return '';
}
