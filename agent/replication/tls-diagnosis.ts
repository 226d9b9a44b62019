// Turns a TLS probe's outcome into one sentence an operator can act on, naming
// the agent.yaml key to change. Pure: the probe (tls-probe.ts) does the I/O.

import type { TlsProbeResult } from './tls-probe.js';

export interface TlsDiagnosisContext {
  /** The relay's address as configured. */
  address: string;
  /** The relay entry's config path, e.g. `relays[0]`. */
  configKey: string;
  /** Whether the link is configured for TLS (false: allowPlaintext). */
  tls: boolean;
  /** A caFile is configured (false: the system's trusted CAs). */
  hasCa: boolean;
  /** A client certificate is configured (mutual TLS). */
  hasClientCertificate: boolean;
  /** Why the client certificate is not valid now (expired, not yet valid), if it is not. */
  clientCertificateProblem?: string;
}

// Codes Node gives when it refuses the relay's certificate chain.
const UNTRUSTED_CHAIN = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
]);

/**
 * Why a TLS link to the relay failed, for RelayLinkError and the agent's
 * status (lastError); undefined when TLS is not the cause (the relay is down,
 * the network is cut, or the TLS link works).
 */
export function diagnoseTls(result: TlsProbeResult, context: TlsDiagnosisContext): string | undefined {
  const { address, configKey } = context;
  if (!context.tls) {
    // A plaintext probe was a TLS handshake with verification off: success means the relay wants TLS.
    return result.kind === 'ok' || result.kind === 'closed-after-handshake' || (result.kind === 'handshake-failed' && result.afterHandshake)
      ? `the relay at ${address} speaks TLS, but ${configKey} connects in plaintext (allowPlaintext: true); ` +
          `replace allowPlaintext with ${configKey}.tls (caFile: the CA that issued the relay's certificate; certFile and keyFile if the relay requires client certificates)`
      : undefined;
  }
  switch (result.kind) {
    case 'ok':
    case 'unreachable':
    case 'timeout':
      return undefined;
    case 'closed-during-handshake':
      return `the relay at ${address} closed the connection during the TLS handshake: it may not speak TLS (a relay with allowPlaintext), or a proxy in between does not pass TLS through`;
    case 'closed-after-handshake':
      return (
        `the relay at ${address} closed the connection right after the TLS handshake, which is how a relay refuses a client certificate: ` +
        clientCertificateAdvice(context)
      );
    case 'handshake-failed':
      return explainHandshakeFailure(result, context);
  }
}

function explainHandshakeFailure(result: Extract<TlsProbeResult, { kind: 'handshake-failed' }>, context: TlsDiagnosisContext): string {
  const { address, configKey } = context;
  const { code, message } = result;
  if (UNTRUSTED_CHAIN.has(code)) {
    return context.hasCa
      ? `the relay's certificate at ${address} is not trusted (${message}): ${configKey}.tls.caFile is not the CA that issued it; use the ca.crt the relay operator gave with the relay's certificate`
      : `the relay's certificate at ${address} is not trusted (${message}): it is not from a CA this system trusts; set ${configKey}.tls.caFile to the CA that issued it`;
  }
  if (code === 'CERT_HAS_EXPIRED') return `the relay's certificate at ${address} has expired (${message}); the relay operator must renew it (wardline cert server)`;
  if (code === 'CERT_NOT_YET_VALID') return `the relay's certificate at ${address} is not valid yet (${message}); check the clock of this machine and of the relay`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return (
      `the relay's certificate does not name the address the agent dials (${message}): set ${configKey}.tls.serverName to a name the certificate carries, ` +
      `or have the certificate reissued with this name (wardline cert server --name <dns name> --ip <address>)`
    );
  }
  if (/wrong version number|packet length too long|unknown protocol|http request/i.test(message) || code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return (
      `the relay at ${address} does not speak TLS (it answered in plaintext): turn TLS on at the relay (tls.certFile, tls.keyFile), ` +
      `or, for local development only, set allowPlaintext: true on the relay and in ${configKey} instead of tls`
    );
  }
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code)?.[1]?.toLowerCase().replace(/_/g, ' ');
  if (alert !== undefined) {
    if (alert === 'certificate required') {
      return context.hasClientCertificate
        ? `the relay at ${address} requires a client certificate and did not accept the one offered; ${clientCertificateAdvice(context)}`
        : `the relay at ${address} requires a client certificate (mutual TLS) and ${configKey}.tls has none: set ${configKey}.tls.certFile and keyFile to this hospital's certificate (wardline cert client --hospital <id>)`;
    }
    return `the relay at ${address} refused this agent's TLS handshake (alert "${alert}"): ${clientCertificateAdvice(context, alert)}`;
  }
  return `the TLS handshake with the relay at ${address} failed: ${message}${code === 'UNKNOWN' ? '' : ` (${code})`}`;
}

function clientCertificateAdvice(context: TlsDiagnosisContext, alert?: string): string {
  const { configKey } = context;
  if (!context.hasClientCertificate) {
    return `${configKey}.tls has no client certificate; if the relay requires one, set ${configKey}.tls.certFile and keyFile (wardline cert client --hospital <id>)`;
  }
  if (context.clientCertificateProblem) {
    return `the client certificate in ${configKey}.tls.certFile is ${context.clientCertificateProblem}; ask the relay operator for a new one`;
  }
  if (alert === 'unsupported certificate') {
    return `the certificate in ${configKey}.tls.certFile is not a TLS client certificate (it lacks extendedKeyUsage clientAuth); use the one issued with wardline cert client`;
  }
  return `the client certificate in ${configKey}.tls.certFile was not issued by a CA the relay trusts (the relay's tls.clientCaFile); use the certificate the relay operator issued for this hospital`;
}
