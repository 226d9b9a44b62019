// The relay's `http:` config section: where the feed API, status, metrics and
// health listen, and the operator token that opens status and metrics.
import { z } from 'zod';
import { DEFAULT_RELAY_HTTP_PORT } from '../../protocol/index.js';
import { hostPortSchema } from '../../runtime/index.js';

/** Feed NDJSON API, /v1/status, /metrics, /healthz. */
export const DEFAULT_HTTP_LISTEN = `0.0.0.0:${DEFAULT_RELAY_HTTP_PORT}`;

export const HttpConfigSchema = z
  .strictObject({
    listen: hostPortSchema().prefault(DEFAULT_HTTP_LISTEN),
    /** A file holding the operator token for /, /v1/status (in full) and /metrics; relative to the config file. */
    operatorTokenFile: z.string().min(1).optional(),
    /** Or the token's SHA-256 digest, 64 hex digits (`printf %s "$TOKEN" | sha256sum`), so the config holds no secret. */
    operatorTokenSha256: z.string().regex(/^[0-9a-fA-F]{64}$/, { error: 'expected the SHA-256 digest of the operator token: 64 hex digits' }).optional(),
  })
  .superRefine((http, ctx) => {
    if (http.operatorTokenFile !== undefined && http.operatorTokenSha256 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['operatorTokenSha256'], message: 'give operatorTokenFile or operatorTokenSha256, not both' });
    }
  });
export type HttpConfig = z.output<typeof HttpConfigSchema>;

/** The section with its file path resolved against the config file's directory. */
export function resolveHttpPaths(http: HttpConfig, resolvePath: (path: string | undefined) => string | undefined): HttpConfig {
  return { ...http, operatorTokenFile: resolvePath(http.operatorTokenFile) };
}
