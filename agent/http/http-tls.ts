// `http.tls` in agent.yaml: HTTPS on the agent's own listener (dashboard, login,
// admin API, status, records, ingest), so the password, the session cookie and
// patient records do not cross the LAN in clear. The certificate is one
// `wardline cert server` makes (or the hospital's own CA issues); `wardline
// install` turns it on. Files are read once at start; a missing or mismatched
// one is a config error naming the key.
import { z } from 'zod';
import { ConfigError, checkKeyPair, readCertificateFile, readPrivateKeyFile, type SecretFileCheck } from '../../runtime/index.js';

export const HttpTlsSchema = z.strictObject({
  /** PEM server certificate (chain) for the names and addresses browsers use; relative to the config file. */
  certFile: z.string().min(1),
  /** Its private key, unencrypted, readable only by the agent's service user; relative to the config file. */
  keyFile: z.string().min(1),
  /**
   * Optional: the CA whose client certificates identify local applications
   * (http.clients[].certificateSha256). The listener then asks every client for
   * a certificate but lets those without one through: browsers log in, scripts
   * send tokens. Relative to the config file.
   */
  clientCaFile: z.string().min(1).optional(),
});
export type HttpTlsConfig = z.output<typeof HttpTlsSchema>;

/** What the HTTPS server needs: PEM buffers, read and checked. */
export interface HttpTls {
  cert: Buffer;
  key: Buffer;
  /** PEM CA for client certificates (http.tls.clientCaFile); absent = none asked for. */
  clientCa?: Buffer;
}

/** Reads http.tls's files; throws ConfigError naming the key and the config file. */
export function loadHttpTls(tls: HttpTlsConfig | undefined, file: string, at: (path: string) => string, secrets?: SecretFileCheck): HttpTls | null {
  if (!tls) return null;
  const problems: string[] = [];
  const cert = readCertificateFile(at(tls.certFile), 'http.tls.certFile', file, problems);
  const key = readPrivateKeyFile(at(tls.keyFile), 'http.tls.keyFile', file, problems, secrets);
  if (cert && key) checkKeyPair(cert, key, 'http.tls.certFile', 'http.tls.keyFile', file, problems);
  if (cert?.certificate.ca) problems.push(`http.tls.certFile: ${JSON.stringify(cert.file)} is a CA certificate; give the agent's server certificate (wardline cert server) (${file})`);
  const clientCa = tls.clientCaFile === undefined ? undefined : readCertificateFile(at(tls.clientCaFile), 'http.tls.clientCaFile', file, problems);
  if (clientCa && !clientCa.certificate.ca) problems.push(`http.tls.clientCaFile: ${JSON.stringify(clientCa.file)} is not a CA certificate; give the CA that issues the applications' client certificates (${file})`);
  if (problems.length > 0 || !cert || !key) throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`, file, problems);
  return { cert: cert.pem, key: key.pem, ...(clientCa ? { clientCa: clientCa.pem } : {}) };
}
