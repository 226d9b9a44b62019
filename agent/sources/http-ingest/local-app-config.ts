// The local applications' side of agent.yaml: `http.clients` (who may read and
// write which streams through /v1/records and /v1/ingest), `http.anonymousApps`
// (what a request without credentials gets) and `http.ingest` (the bounds of one
// ingest body). Read once at start; tokens are kept only as SHA-256 digests.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, checkSecretFiles, type SecretFileCheck } from '../../../runtime/index.js';
import { tokenDigest } from '../../http/index.js';
import { NameSchema, StreamNameSchema } from '../../../protocol/index.js';

/** A local application's token shorter than this is refused at start. */
export const MIN_CLIENT_TOKEN_LENGTH = 16;
/** Deepest nesting of one ingested row (the row object itself is level 1). */
export const DEFAULT_MAX_ROW_DEPTH = 64;
/** Largest ingested row, in bytes of its JSON text. */
export const DEFAULT_MAX_ROW_BYTES = 1024 * 1024;
/** Largest ingest body accepted, in bytes. */
export const DEFAULT_MAX_INGEST_BODY_BYTES = 16 * 1024 * 1024;
/** Most rows accepted in one request. */
export const DEFAULT_MAX_ROWS_PER_REQUEST = 10_000;

/** What a request without a token or client certificate may do on /v1/records and /v1/ingest. */
export const ANONYMOUS_APP_MODES = ['none', 'loopback', 'anyone'] as const;
export type AnonymousAppMode = (typeof ANONYMOUS_APP_MODES)[number];

const STREAM_OR_ANY = z.union([z.literal('*'), StreamNameSchema], { error: 'expected a stream name or "*" (every stream)' });
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const CERT_FINGERPRINT = /^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/;

export const LocalAppClientSchema = z
  .strictObject({
    /** Names the application in logs, in status and as the source of what it ingests (`http:<name>`). */
    name: NameSchema,
    /** A file holding the application's bearer token; readable by the service user only. */
    tokenFile: z.string().min(1).optional(),
    /** The SHA-256 of the token, hex (`printf %s "$TOKEN" | sha256sum`): the config then holds no secret. */
    tokenSha256: z.string().regex(SHA256_HEX, { error: 'expected 64 hex digits (the SHA-256 of the token)' }).optional(),
    /** SHA-256 fingerprint of the application's TLS client certificate, for mutual TLS on an HTTPS listener. */
    certificateSha256: z.string().regex(CERT_FINGERPRINT, { error: 'expected a SHA-256 fingerprint: 64 hex digits, colons optional' }).optional(),
    /** Streams it may read with GET /v1/records ("*" = all). */
    read: z.array(STREAM_OR_ANY).default([]),
    /** Streams it may write with POST /v1/ingest ("*" = all). */
    write: z.array(STREAM_OR_ANY).default([]),
  })
  .superRefine((client, ctx) => {
    const ways = [client.tokenFile, client.tokenSha256, client.certificateSha256].filter((w) => w !== undefined).length;
    if (client.tokenFile !== undefined && client.tokenSha256 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['tokenSha256'], message: 'give tokenFile or tokenSha256, not both' });
    }
    if (ways === 0) ctx.addIssue({ code: 'custom', path: ['tokenFile'], message: 'expected tokenFile, tokenSha256 or certificateSha256: something to identify the application by' });
    if (client.read.length === 0 && client.write.length === 0) ctx.addIssue({ code: 'custom', path: ['read'], message: 'expected at least one stream under read or write' });
  });

export const IngestLimitsSchema = z.strictObject({
  /** Deepest nesting of one row; a deeper row is refused with 400. */
  maxRowDepth: z.int().min(2).max(1_000).default(DEFAULT_MAX_ROW_DEPTH),
  /** Largest row in bytes; a larger row is refused with 400. */
  maxRowBytes: z.int().min(1024).max(DEFAULT_MAX_INGEST_BODY_BYTES).default(DEFAULT_MAX_ROW_BYTES),
});
export type IngestLimitsConfig = z.output<typeof IngestLimitsSchema>;

/** The config keys, for the http section of the agent's schema. */
export const localAppConfigShape = {
  /** Local applications with their tokens and streams; absent = none. */
  clients: z.array(LocalAppClientSchema).default([]),
  /** A request without credentials: none, loopback (127.0.0.1/::1 only) or anyone; default loopback without clients, none with. */
  anonymousApps: z.enum(ANONYMOUS_APP_MODES).optional(),
  /** Bounds of one ingested row. */
  ingest: IngestLimitsSchema.prefault({}),
};

interface LocalAppConfigInput {
  clients: z.output<typeof LocalAppClientSchema>[];
  anonymousApps?: AnonymousAppMode;
}

/** One application as the auth checks it. */
export interface LocalAppClient {
  name: string;
  /** SHA-256 of the token; null when it identifies by certificate only. */
  tokenDigest: Buffer | null;
  /** Upper-case hex with colons, as Node's fingerprint256 gives it; null without. */
  certificateSha256: string | null;
  /** Streams it may read; "*" in the set = all. */
  read: ReadonlySet<string>;
  write: ReadonlySet<string>;
}

export interface LocalAppCredentials {
  clients: LocalAppClient[];
  anonymous: AnonymousAppMode;
  /** True when anonymousApps was set in the config (rather than defaulted). */
  anonymousExplicit: boolean;
}

/** Reads http.clients' token files (paths resolved by `at`); throws ConfigError naming the key and the file, never echoing a secret. */
export function loadLocalAppCredentials(http: LocalAppConfigInput, at: (path: string) => string, file: string, secrets?: SecretFileCheck): LocalAppCredentials {
  const fail = (key: string, problem: string, cause?: unknown): never => {
    const text = `http.${key}: ${problem} (${file})`;
    throw new ConfigError(`invalid config:\n  ${text}`, file, [text], { cause });
  };
  const seen = new Set<string>();
  const clients = http.clients.map((client, i): LocalAppClient => {
    if (seen.has(client.name)) fail(`clients[${i}].name`, 'expected a name not used by another client');
    seen.add(client.name);
    let digest: Buffer | null = client.tokenSha256 === undefined ? null : Buffer.from(client.tokenSha256, 'hex');
    if (client.tokenFile !== undefined) {
      const path = at(client.tokenFile);
      // A token others can read is shared with them (secret-file-check.ts).
      if (secrets) checkSecretFiles(secrets, [[path, `http.clients[${i}].tokenFile`]], file);
      let token = '';
      try {
        token = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      } catch (cause) {
        fail(`clients[${i}].tokenFile`, `cannot read ${path}: ${(cause as Error).message}`, cause);
      }
      if (token.length < MIN_CLIENT_TOKEN_LENGTH) fail(`clients[${i}].tokenFile`, `the token in ${path} is shorter than ${MIN_CLIENT_TOKEN_LENGTH} characters`);
      digest = tokenDigest(token);
    }
    return {
      name: client.name,
      tokenDigest: digest,
      certificateSha256: client.certificateSha256 === undefined ? null : normaliseFingerprint(client.certificateSha256),
      read: new Set(client.read),
      write: new Set(client.write),
    };
  });
  return {
    clients,
    anonymous: http.anonymousApps ?? (clients.length === 0 ? 'loopback' : 'none'),
    anonymousExplicit: http.anonymousApps !== undefined,
  };
}

/** "ab:cd…" or "abcd…" -> "AB:CD…", the form of Node's `getPeerCertificate().fingerprint256`. */
export function normaliseFingerprint(text: string): string {
  return text
    .replace(/:/g, '')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}
