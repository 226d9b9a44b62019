// `http.admin` in agent.yaml: the dashboard login and the admin API's token.
// Without it the dashboard and the admin endpoints are open to whoever reaches
// the HTTP listen address (fine on a developer's machine; the agent says so
// loudly in its log and on the page); admin actions still need a same-origin
// JSON request with the CSRF token, so a web page on another site cannot send them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, durationSchema } from '../../runtime/index.js';
import { checkSecretFiles, type SecretFileCheck } from '../../runtime/index.js';
import { hashPasswordSync, isScryptHash, parseScryptHash, type ScryptHash } from './admin-password.js';
import { PasswordHashFormatError } from './errors.js';
import { DEFAULT_SESSION_IDLE_MS } from './admin-sessions.js';

/** Endpoints that may be left open for monitoring on the LAN. */
export const OPENABLE_ENDPOINTS = ['healthz', 'readyz', 'metrics', 'status'] as const;
export type OpenableEndpoint = (typeof OPENABLE_ENDPOINTS)[number];
/** Open by default: liveness, readiness and Prometheus scrapes carry no patient data. */
export const DEFAULT_OPEN_ENDPOINTS: readonly OpenableEndpoint[] = ['healthz', 'readyz', 'metrics'];
/** A bearer token shorter than this is refused at start. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export const AdminConfigSchema = z
  .strictObject({
    /** A file holding the password's scrypt hash (`wardline agent hash-password`), or the password itself; readable by the service user only. */
    passwordFile: z.string().min(1).optional(),
    /** The password's scrypt hash, as `wardline agent hash-password` prints it. */
    passwordHash: z.string().min(1).optional(),
    /** A bearer token for scripts and the CLI (`Authorization: Bearer …`); it also logs in at the form. */
    token: z.string().min(MIN_ADMIN_TOKEN_LENGTH).optional(),
    /** A file holding the token. */
    tokenFile: z.string().min(1).optional(),
    /** A login unused this long ends; an open dashboard keeps it in use. */
    sessionIdle: durationSchema({ minMs: 60_000 }).default(DEFAULT_SESSION_IDLE_MS),
    /** Endpoints reachable without logging in, for monitoring: healthz, readyz, metrics, status. */
    open: z.array(z.enum(OPENABLE_ENDPOINTS)).default([...DEFAULT_OPEN_ENDPOINTS]),
    /** The message browser shows the raw HL7 to those logged in; absent = false (it is patient data): metadata only. */
    showMessages: z.boolean().optional(),
  })
  .superRefine((admin, ctx) => {
    if (admin.passwordFile !== undefined && admin.passwordHash !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['passwordHash'], message: 'give passwordFile or passwordHash, not both' });
    }
    if (admin.token !== undefined && admin.tokenFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['tokenFile'], message: 'give token or tokenFile, not both' });
    }
    if (admin.passwordFile === undefined && admin.passwordHash === undefined && admin.token === undefined && admin.tokenFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'expected passwordFile, passwordHash, token or tokenFile: something to log in with' });
    }
    if (admin.passwordHash !== undefined) {
      try {
        parseScryptHash(admin.passwordHash);
      } catch (error) {
        if (!(error instanceof PasswordHashFormatError)) throw error;
        ctx.addIssue({ code: 'custom', path: ['passwordHash'], message: error.message });
      }
    }
  });

export type AdminConfig = z.output<typeof AdminConfigSchema>;

/** What the login checks against, read once at start. */
export interface AdminCredentials {
  /** null when only a token is configured. */
  password: ScryptHash | null;
  /** SHA-256 of the token; null when none is configured. */
  tokenDigest: Buffer | null;
  sessionIdleMs: number;
  open: ReadonlySet<OpenableEndpoint>;
}

/**
 * Reads the password and token files of http.admin (paths resolved by `at`).
 * Throws ConfigError naming the key and the config file; never echoes a secret.
 */
export function loadAdminCredentials(admin: AdminConfig | undefined, at: (path: string) => string, file: string, secrets?: SecretFileCheck): AdminCredentials | null {
  if (!admin) return null;
  const fail = (key: string, problem: string, cause?: unknown): never => {
    const text = `http.admin.${key}: ${problem} (${file})`;
    throw new ConfigError(`invalid config:\n  ${text}`, file, [text], { cause });
  };
  const readSecret = (key: string, path: string): string => {
    let text = '';
    if (secrets) checkSecretFiles(secrets, [[at(path), `http.admin.${key}`]], file);
    try {
      text = readFileSync(at(path), 'utf8').replace(/\r?\n$/, '');
    } catch (cause) {
      fail(key, `cannot read ${at(path)}: ${(cause as Error).message}`, cause);
    }
    if (text === '') fail(key, `${at(path)} is empty`);
    return text;
  };

  let password: ScryptHash | null = null;
  if (admin.passwordHash !== undefined) password = parseScryptHash(admin.passwordHash);
  else if (admin.passwordFile !== undefined) {
    const text = readSecret('passwordFile', admin.passwordFile);
    try {
      password = isScryptHash(text) ? parseScryptHash(text) : hashPasswordSync(text);
    } catch (error) {
      if (!(error instanceof PasswordHashFormatError)) throw error;
      fail('passwordFile', `${at(admin.passwordFile)} holds a malformed hash: ${error.message}`, error);
    }
  }
  let token: string | undefined = admin.token;
  if (admin.tokenFile !== undefined) {
    token = readSecret('tokenFile', admin.tokenFile);
    if (token.length < MIN_ADMIN_TOKEN_LENGTH) fail('tokenFile', `the token in ${at(admin.tokenFile)} is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  }
  return {
    password,
    tokenDigest: token === undefined ? null : tokenDigest(token),
    sessionIdleMs: admin.sessionIdle,
    open: new Set(admin.open),
  };
}

/** The digest tokens are compared by (both sides the same length, so timingSafeEqual applies). */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
