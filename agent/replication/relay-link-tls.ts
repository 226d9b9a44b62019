// `relays[].tls` in agent.yaml: how the agent verifies the relay (a CA) and, for
// mutual TLS, proves its hospital (a client certificate issued for it). The
// files are read once at start; a missing or mismatched file is a config error
// naming the key. An expired client certificate is not: the agent must go on
// ingesting, so the link reports it (lastError) instead of the agent refusing
// to start.
import type { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, checkKeyPair, readCertificateFile, readPrivateKeyFile, type SecretFileCheck } from '../../runtime/index.js';

export const RelayLinkTlsSchema = z
  .strictObject({
    /** PEM CA bundle that issued the relay's certificate; default the system's trusted CAs. Relative to the config file. */
    caFile: z.string().min(1).optional(),
    /** This hospital's client certificate (mutual TLS), issued by the relay operator's client CA. Relative to the config file. */
    certFile: z.string().min(1).optional(),
    /** The private key of certFile, unencrypted, readable only by the agent's service user. Relative to the config file. */
    keyFile: z.string().min(1).optional(),
    /**
     * The name the relay's certificate must carry (also sent as SNI), when
     * `address` is not that name, e.g. an IP address or a tunnel. Default: the
     * host of `address`.
     */
    serverName: z.string().min(1).optional(),
  })
  .superRefine((tls, ctx) => {
    if (tls.certFile !== undefined && tls.keyFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'expected the private key of certFile (mutual TLS needs both)' });
    } else if (tls.keyFile !== undefined && tls.certFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['certFile'], message: 'expected the client certificate for keyFile (mutual TLS needs both)' });
    }
  });
export type RelayLinkTlsConfig = z.output<typeof RelayLinkTlsSchema>;

/** What the transport needs: PEM buffers, read and checked. */
export interface RelayLinkTls {
  /** PEM CA bundle; undefined: the system's trusted CAs. */
  ca?: Buffer;
  /** PEM client certificate chain (mutual TLS). */
  cert?: Buffer;
  /** PEM private key of cert. */
  key?: Buffer;
  serverName?: string;
  /** The client certificate, so link errors can say when it expired. */
  clientCertificate?: X509Certificate;
}

/**
 * Reads the files of one relay's `tls`; `keyPath` is its config path
 * (`relays[0].tls`), `file` the config file, `at` resolves a path against it.
 * Throws ConfigError naming the key.
 */
export function loadRelayLinkTls(tls: RelayLinkTlsConfig, keyPath: string, file: string, at: (path: string) => string, secrets?: SecretFileCheck): RelayLinkTls {
  const problems: string[] = [];
  const ca = tls.caFile === undefined ? undefined : readCertificateFile(at(tls.caFile), `${keyPath}.caFile`, file, problems);
  const cert = tls.certFile === undefined ? undefined : readCertificateFile(at(tls.certFile), `${keyPath}.certFile`, file, problems);
  const key = tls.keyFile === undefined ? undefined : readPrivateKeyFile(at(tls.keyFile), `${keyPath}.keyFile`, file, problems, secrets);
  if (cert && key) checkKeyPair(cert, key, `${keyPath}.certFile`, `${keyPath}.keyFile`, file, problems);
  if (ca && !ca.certificate.ca) {
    problems.push(`${keyPath}.caFile: ${JSON.stringify(ca.file)} is not a CA certificate; give the CA that issued the relay's certificate (the ca.crt beside it) (${file})`);
  }
  if (cert?.certificate.ca) {
    problems.push(`${keyPath}.certFile: ${JSON.stringify(cert.file)} is a CA certificate; give this hospital's client certificate (wardline cert client) (${file})`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`, file, problems);
  return {
    ...(ca ? { ca: ca.pem } : {}),
    ...(cert && key ? { cert: cert.pem, key: key.pem, clientCertificate: cert.certificate } : {}),
    ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }),
  };
}
