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

/** Why a connection failed below TLS, in the words an operator knows from the network's error code. */
const NETWORK_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens on that port: is the relay running?)',
  ECONNRESET: 'connection reset by the peer',
  EHOSTUNREACH: 'host unreachable (no route to the relay)',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'the name does not resolve (DNS)',
  EAI_AGAIN: 'the name does not resolve now (DNS temporarily failing)',
  ETIMEDOUT: 'connection timed out',
};

export interface ConnectFailureExplanation {
  /** One sentence. */
  reason: string;
  /** True when a setting is wrong (TLS), so retrying as is cannot help; false for a relay that is down or out of reach. */
  configProblem: boolean;
}

/**
 * Why the link could not connect: a TLS setting to change, or the network's own
 * reason (connection refused, host unreachable…); undefined when the probe learns nothing.
 */
export async function explainConnectFailure(options: ExplainConnectFailureOptions): Promise<ConnectFailureExplanation | undefined> {
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
  if (result.kind === 'unreachable') {
    const words = NETWORK_FAILURES[result.code];
    return words ? { reason: words, configProblem: false } : { reason: `the connection failed (${result.code || result.message})`, configProblem: false };
  }
  const tlsProblem = diagnoseTls(result, {
    address: options.address,
    configKey: options.configKey,
    tls: tls !== undefined,
    hasCa: tls?.ca !== undefined,
    hasClientCertificate: tls?.cert !== undefined,
    ...(clientCertificateProblem ? { clientCertificateProblem } : {}),
  });
  return tlsProblem === undefined ? undefined : { reason: tlsProblem, configProblem: true };
}
