// `wardline feed tail`: the reference vendor consumer. Subscribes to a feed over
// gRPC from a cursor, prints each event as one NDJSON line (or a short text line),
// and with --follow keeps printing the live tail until interrupted. TLS by
// default (the system's CAs, or --ca); plaintext only with --plaintext.
import * as grpc from '@grpc/grpc-js';
import { FeedsService, eventFromProto, pb, toVendorEventLine, type FeedEvent, type SubscribeRequest } from '../protocol/index.js';
import { ConfigError, checkKeyPair, readCertificateFile, readPrivateKeyFile } from '../runtime/index.js';

export interface FeedTailOptions {
  relay: string;
  key: string;
  feed: string;
  after: number;
  follow: boolean;
  hospital?: string;
  format: 'ndjson' | 'text';
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
}

const FeedsClient = grpc.makeGenericClientConstructor(FeedsService, 'Feeds');

export function feedTailCommand(options: FeedTailOptions, signal?: AbortSignal): Promise<number> {
  const client = new FeedsClient(options.relay, channelCredentials(options), channelOptions(options));
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${options.key}`);
  const request: SubscribeRequest = pb.SubscribeRequest.create({
    feed: options.feed,
    after: options.after,
    follow: options.follow,
    hospitalId: options.hospital ?? '',
  });
  const call = (client as unknown as { subscribe(r: SubscribeRequest, m: grpc.Metadata): grpc.ClientReadableStream<FeedEvent> }).subscribe(request, metadata);
  let received = 0;
  let lastSeq = options.after;
  return new Promise<number>((resolve) => {
    // A cancelled call reports both an error (CANCELLED) and an end; answer once.
    let finished = false;
    const finish = (code: number, line: string): void => {
      if (finished) return;
      finished = true;
      process.stderr.write(`${line}\n`);
      client.close();
      resolve(code);
    };
    signal?.addEventListener('abort', () => call.cancel());
    call.on('data', (message: FeedEvent) => {
      const event = eventFromProto(pb.Event.create(message.event ?? {}) as InstanceType<typeof pb.Event>);
      lastSeq = event.seq;
      received++;
      if (options.format === 'text') {
        process.stdout.write(`${event.seq}\t${new Date(event.tsMs).toISOString()}\t${event.stream}\t${event.key}\t${event.op}\t${event.body.length} B\n`);
      } else {
        // The relay's NDJSON line with hospital and feed in front: a row nested too deep to re-serialise is printed as stored.
        process.stdout.write(`${JSON.stringify({ hospital: message.hospitalId, feed: message.feed }).slice(0, -1)},${toVendorEventLine(event).slice(1)}`);
      }
      if (options.limit !== undefined && received >= options.limit) call.cancel();
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (error.code === grpc.status.CANCELLED) return finish(0, `stopped after ${received} events; resume with --after ${lastSeq}`);
      const hint = error.code === grpc.status.UNAVAILABLE ? connectHint(options, error.details || error.message) : '';
      finish(1, `feed tail failed: ${grpc.status[error.code] ?? error.code}: ${error.details || error.message}${hint}`);
    });
    call.on('end', () => finish(0, `${received} events; resume with --after ${lastSeq}`));
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
