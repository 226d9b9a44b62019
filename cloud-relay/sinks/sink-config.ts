// The relay's optional `sinks:` config section: where the relay publishes every
// stored feed event besides its own feed API. One kind today, a NATS JetStream
// stream; each sink has a name (its cursors and leases are kept under it).
import { z } from 'zod';
import { NameSchema } from '../../protocol/index.js';
import { durationSchema } from '../../runtime/index.js';

/** The first token of every subject the sink publishes to: `wardline.<hospital>.<feed>`. */
export const DEFAULT_SINK_SUBJECT_PREFIX = 'wardline';
/** How long a relay process keeps a feed's publishing lease without renewing it, in milliseconds. */
export const DEFAULT_SINK_LEASE_TTL_MS = 15_000;
/** How long a publish may wait for JetStream's ack before the sink reconciles and retries, in milliseconds. */
export const DEFAULT_SINK_PUBLISH_TIMEOUT_MS = 5_000;
/** Events read from the feed store per page (the cursor is written once per page). */
export const DEFAULT_SINK_PAGE_EVENTS = 256;
/** How often a sink of all feeds looks for feeds it has not seen yet, and a feed not woken by a commit is re-read, in milliseconds. */
export const DEFAULT_SINK_POLL_MS = 2_000;
/** The longest wait between retries after NATS failed, in milliseconds. */
export const DEFAULT_SINK_MAX_BACKOFF_MS = 10_000;

// A NATS subject token: no dots (token separator), wildcards, whitespace or '>'.
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

const SinkFeed = z.strictObject({ hospital: NameSchema, feed: NameSchema });

export const NatsJetStreamSinkSchema = z
  .strictObject({
    kind: z.literal('nats-jetstream'),
    /** Names the sink's cursors and leases; renaming it publishes every feed again from seq 1. */
    name: NameSchema,
    /** NATS server URLs, e.g. nats://nats-1:4222. */
    servers: z.array(z.string().min(1)).min(1),
    /** The JetStream stream that captures `<subjectPrefix>.>`; the relay does not create it. */
    stream: z.string().regex(/^[^\s.*>/\\]+$/, 'a JetStream stream name: no spaces, dots, *, >, / or \\'),
    subjectPrefix: z.string().regex(SUBJECT_PREFIX, 'subject tokens separated by dots, each of A-Z a-z 0-9 _ -').default(DEFAULT_SINK_SUBJECT_PREFIX),
    /** Only these feeds; absent = every feed the relay holds. */
    feeds: z.array(SinkFeed).min(1).optional(),
    /** A NATS credentials file (.creds, JWT + NKey seed); relative to the config file. */
    credentialsFile: z.string().min(1).optional(),
    /** Or a user and a password file. */
    user: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    /** Verify the servers' TLS certificate against this CA file (tls:// servers). */
    caFile: z.string().min(1).optional(),
    leaseTtlMs: durationSchema({ minMs: 200 }).default(DEFAULT_SINK_LEASE_TTL_MS),
    publishTimeoutMs: durationSchema({ minMs: 100 }).default(DEFAULT_SINK_PUBLISH_TIMEOUT_MS),
    pageEvents: z.int().positive().max(10_000).default(DEFAULT_SINK_PAGE_EVENTS),
    pollMs: durationSchema({ minMs: 50 }).default(DEFAULT_SINK_POLL_MS),
    maxBackoffMs: durationSchema({ minMs: 50 }).default(DEFAULT_SINK_MAX_BACKOFF_MS),
  })
  .superRefine((sink, ctx) => {
    if (sink.credentialsFile !== undefined && (sink.user !== undefined || sink.passwordFile !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['credentialsFile'], message: 'give credentialsFile, or user and passwordFile, not both' });
    }
    if ((sink.user === undefined) !== (sink.passwordFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: [sink.user === undefined ? 'user' : 'passwordFile'], message: 'user and passwordFile go together' });
    }
  });

export const SinkConfigSchema = NatsJetStreamSinkSchema;
export type SinkConfig = z.output<typeof SinkConfigSchema>;

export const SinksConfigSchema = z.array(SinkConfigSchema).superRefine((sinks, ctx) => {
  const names = new Set<string>();
  sinks.forEach((sink, i) => {
    if (names.has(sink.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: 'duplicate sink name' });
    names.add(sink.name);
  });
});
export type SinksConfig = z.output<typeof SinksConfigSchema>;

/** Resolves the sink's file paths against the config file's directory. */
export function resolveSinkPaths(sinks: SinksConfig, at: (path: string | undefined) => string | undefined): SinksConfig {
  return sinks.map((sink) => ({ ...sink, credentialsFile: at(sink.credentialsFile), passwordFile: at(sink.passwordFile), caFile: at(sink.caFile) }));
}
