// After grpc-js fails to connect, one TLS probe with the link's own settings
// tells whether TLS was the reason and which key to change. Only runs after a
// failure, so a healthy link never pays for it.
import { certificateValidityProblem, parseHostPort } from '../../runtime/index.js';
import type { RelayLinkTls } from './relay-link-tls.js';
import { diagnoseTls } from './tls-diagnosis.js';
import { probeTls } from './tls-probe.js';

/** A probe waits at most this long, in milliseconds (less when connectTimeoutMs is shorter). */
export const DEFAULT_TLS_PROBE_TIMEOUT_MS = 2_000;

export interface ExplainConnectFailureOptions {
  /** The relay's `host:port` as configured. */
  address: string;
  /** The link's TLS; undefined for a plaintext link. */
  tls: RelayLinkTls | undefined;
  /** The relay entry's config path, e.g. `relays[0]`. */
  configKey: string;
  /** Milliseconds. */
  timeoutMs: number;
  /** Milliseconds since the epoch, to judge the client certificate's validity. */
  nowMs: number;
}

/** A sentence saying why TLS kept the link down, or undefined when TLS is not the reason. */
export async function explainConnectFailure(options: ExplainConnectFailureOptions): Promise<string | undefined> {
  const target = parseHostPort(options.address);
  if (!target) return undefined; // a resolver URI (dns:///…): leave the diagnosis to grpc-js
  const { tls } = options;
  const result = await probeTls({
    host: target.host,
    port: target.port,
    timeoutMs: options.timeoutMs,
    ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, serverName: tls.serverName } : { verify: false }),
  });
  const clientCertificateProblem = tls?.clientCertificate && certificateValidityProblem(tls.clientCertificate, options.nowMs);
  return diagnoseTls(result, {
    address: options.address,
    configKey: options.configKey,
    tls: tls !== undefined,
    hasCa: tls?.ca !== undefined,
    hasClientCertificate: tls?.cert !== undefined,
    ...(clientCertificateProblem ? { clientCertificateProblem } : {}),
  });
}
