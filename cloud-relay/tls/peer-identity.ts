// The hospital a gRPC peer's verified client certificate names. grpc-js reports
// a peer certificate only when the TLS layer verified it against tls.clientCaFile
// (an unverified one is never an identity), so "no identity" covers plaintext,
// TLS without mutual TLS, and mutual TLS where the client sent no certificate.
import type { PeerCertificate } from 'node:tls';
import { certificateIdentity, type CertificateIdentity } from '../../protocol/index.js';

/** What the peer's certificate says: a hospital, or why it names none. */
export type PeerIdentity = CertificateIdentity | { problem: string; describe?: undefined };

/** The identity of a call's verified client certificate; undefined when there is none. */
export function peerIdentity(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null }): PeerIdentity | undefined {
  const certificate = call.getAuthContext()?.sslPeerCertificate;
  if (!certificate) return undefined;
  return certificateIdentity(certificate);
}
