// Reads the files `tls:` names once, at start, and checks them: a missing file,
// a key where a certificate belongs, a key that is not the certificate's, an
// expired certificate — each is a ConfigError naming the key and the config
// file, so the relay refuses to start instead of failing every handshake.
import type { X509Certificate } from 'node:crypto';
import { ConfigError, certificateValidityProblem, checkKeyPair, readCertificateFile, readPrivateKeyFile, type SecretFileCheck } from '../../runtime/index.js';
import { DEFAULT_REQUIRE_CLIENT_CERT, type RelayTlsConfig } from './relay-tls-config.js';

/** The relay's TLS material, read and checked. */
export interface RelayTls {
  /** PEM server certificate chain. */
  cert: Buffer;
  /** PEM private key. */
  key: Buffer;
  /** PEM CA bundle for client certificates; undefined: no mutual TLS. */
  clientCa: Buffer | undefined;
  /** Refuse gRPC clients without a certificate from clientCa at the handshake. */
  requireClientCert: boolean;
  /** The server certificate, for logs (subject, names, expiry). */
  certificate: X509Certificate;
}

/** Reads and checks `tls`; `source` names the config file in errors. `nowMs`: milliseconds since the epoch. */
export function loadRelayTls(tls: RelayTlsConfig, source: string, nowMs: number = Date.now(), secrets?: SecretFileCheck): RelayTls {
  const problems: string[] = [];
  const cert = readCertificateFile(tls.certFile, 'tls.certFile', source, problems);
  const key = readPrivateKeyFile(tls.keyFile, 'tls.keyFile', source, problems, secrets);
  const clientCa = tls.clientCaFile === undefined ? undefined : readCertificateFile(tls.clientCaFile, 'tls.clientCaFile', source, problems);
  if (cert && key) checkKeyPair(cert, key, 'tls.certFile', 'tls.keyFile', source, problems);
  if (cert) {
    // A relay serving an expired certificate is unreachable for every agent and
    // vendor; saying so at start beats a fleet of handshake errors.
    const invalid = certificateValidityProblem(cert.certificate, nowMs);
    if (invalid) problems.push(`tls.certFile: the certificate in ${JSON.stringify(cert.file)} is ${invalid}; renew it (wardline cert server) (${source})`);
    if (cert.certificate.ca) problems.push(`tls.certFile: ${JSON.stringify(cert.file)} is a CA certificate; give the relay's server certificate, and the CA as tls.clientCaFile or to clients (${source})`);
  }
  if (clientCa && !clientCa.certificate.ca) {
    problems.push(`tls.clientCaFile: ${JSON.stringify(clientCa.file)} is not a CA certificate; give the CA that issues the hospitals' client certificates (${source})`);
  }
  if (problems.length > 0 || !cert || !key) throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`, source, problems);
  return {
    cert: cert.pem,
    key: key.pem,
    clientCa: clientCa?.pem,
    requireClientCert: clientCa !== undefined && (tls.requireClientCert ?? DEFAULT_REQUIRE_CLIENT_CERT),
    certificate: cert.certificate,
  };
}
