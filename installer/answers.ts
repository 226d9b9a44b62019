// The installer's answers: what the operator decides (hospital, relay, sources,
// feeds, expected volume), as an answers YAML file for `--non-interactive`.
import { z } from 'zod';
import { byteSizeSchema, loadConfigFile, parseHostPort } from '../runtime/index.js';

const hostPort = () => z.string().refine((s) => parseHostPort(s) !== undefined, 'expected host:port');

/** Expected HL7/JSON volume per day when the operator states none: 2 GiB. */
export const DEFAULT_DAILY_VOLUME_BYTES = 2 * 1024 ** 3;
/** Days of journal the disk recommendation covers when none is stated (the agent's default retention is 7 days; the line may be down for a week). */
export const DEFAULT_RETENTION_DAYS = 14;

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-"');

const RelayAnswersSchema = z
  .strictObject({
    name: name.default('cloud'),
    /** host:port of the relay's gRPC endpoint. */
    address: z.string().min(3),
    /** Enrol with a one-time token: the relay's HTTPS base URL (https://relay:7480), the token, and the relay's CA certificate (to trust the relay). */
    enrol: z.strictObject({ url: z.string().url(), token: z.string().min(8), caFile: z.string().min(1) }).optional(),
    /** Or certificates the hospital's own CA issued. */
    import: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1), caFile: z.string().min(1) }).optional(),
    /** Or a shared secret (with caFile for TLS, or allowPlaintext for local development). */
    secretFile: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
    allowPlaintext: z.boolean().default(false),
  })
  .superRefine((r, ctx) => {
    const ways = [r.enrol, r.import, r.secretFile].filter((w) => w !== undefined).length;
    if (ways !== 1) ctx.addIssue({ code: 'custom', path: ['enrol'], message: 'expected exactly one of enrol, import or secretFile' });
    if (r.secretFile !== undefined && r.caFile === undefined && !r.allowPlaintext) {
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: "expected caFile (the relay's CA) or allowPlaintext: true" });
    }
  });

/** A dashboard on these hosts is reachable only from this machine; any other listen needs a login. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/** Whether a dashboard listening on listen (host:port) is reachable from other machines. */
export function listensBeyondLoopback(listen: string): boolean {
  const host = parseHostPort(listen)?.host;
  return host === undefined || !(LOOPBACK_HOSTS.has(host) || host.startsWith('127.'));
}

export const InstallAnswersSchema = z.strictObject({
  hospital: z.strictObject({ id: name, name: z.string().default('') }),
  relay: RelayAnswersSchema,
  /** HL7 MLLP listeners. */
  sources: z.array(z.strictObject({ name, listen: hostPort() })).default([]),
  http: z
    .strictObject({
      listen: hostPort().default('0.0.0.0:8480'),
      /**
       * HTTPS for the dashboard and admin API: "self-signed" (default: a local CA and a
       * certificate for hostNames and listen's address, made as `wardline cert` does),
       * the hospital's own certificate and key, or "off" (the password and records cross the LAN in clear).
       */
      tls: z.union([z.enum(['self-signed', 'off']), z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) })]).default('self-signed'),
      /** DNS names browsers use for the dashboard: in the certificate and in the agent's http.allowedHosts. */
      hostNames: z.array(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'expected a DNS name such as wardline.hospital.local')).default([]),
    })
    .prefault({}),
  /**
   * policy: "proposed" (default) writes the installer's policy for HL7 streams
   * (identifiers hashed or masked, installer/proposed-policy.ts); "none" sends
   * the streams as received, identifiers in clear (the preflight warns).
   */
  feeds: z.array(z.strictObject({ name, streams: z.array(z.string().min(1)).min(1), policy: z.enum(['proposed', 'none']).default('proposed') })).min(1),
  /** The dashboard admin's password, in a file the installer reads once (it stores only the scrypt hash). */
  admin: z.strictObject({ passwordFile: z.string().min(1) }).optional(),
  /** What the operator expects, for the disk recommendation. */
  volume: z
    .strictObject({ dailyBytes: byteSizeSchema().default(DEFAULT_DAILY_VOLUME_BYTES), retentionDays: z.number().int().positive().default(DEFAULT_RETENTION_DAYS) })
    .prefault({}),
  /** The agent's log level. */
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
}).superRefine((a, ctx) => {
  // The dashboard shows patient data and pauses feeds: on the LAN it needs a login.
  if (a.admin === undefined && listensBeyondLoopback(a.http.listen)) {
    ctx.addIssue({ code: 'custom', path: ['admin', 'passwordFile'], message: `http.listen "${a.http.listen}" opens the dashboard to the network: give admin.passwordFile (the admin password), or listen on 127.0.0.1` });
  }
});
export type InstallAnswers = z.output<typeof InstallAnswersSchema>;

export function loadInstallAnswers(file: string): InstallAnswers {
  return loadConfigFile(file, InstallAnswersSchema);
}
