// The relay's transport credentials: grpc-js ServerCredentials for the gRPC
// endpoint and node:https options for the HTTP endpoint, from one RelayTls.
//
//  - No TLS (allowPlaintext): insecure gRPC, plain HTTP.
//  - TLS: both endpoints present the server certificate.
//  - Mutual TLS, client certificate required: the gRPC handshake fails for any
//    client without a certificate from clientCa, before a byte of HTTP/2.
//  - Mutual TLS, client certificate optional: the gRPC handshake asks for a
//    certificate and verifies it when one is sent; the Replication service then
//    decides (a hospital without a secret needs one). grpc-js offers
//    "request but do not require" only through its certificate-provider
//    credentials (grpc.experimental), so fixed providers hand it our files.
// HTTPS never asks for a client certificate: vendors authenticate with keys.
import * as grpc from '@grpc/grpc-js';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { RelayTls } from './relay-tls.js';

/** Credentials for `server.bindAsync`; insecure when `tls` is undefined (allowPlaintext). */
export function grpcServerCredentials(tls: RelayTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const pair = [{ cert_chain: tls.cert, private_key: tls.key }];
  if (!tls.clientCa) return grpc.ServerCredentials.createSsl(null, pair, false);
  if (tls.requireClientCert) return grpc.ServerCredentials.createSsl(tls.clientCa, pair, true);
  return grpc.experimental.createCertificateProviderServerCredentials(
    new FixedCertificateProvider({ identity: { certificate: tls.cert, privateKey: tls.key } }),
    new FixedCertificateProvider({ ca: { caCertificate: tls.clientCa } }),
    false,
  );
}

/** Options for `https.createServer`. */
export function httpsServerOptions(tls: RelayTls): HttpsServerOptions {
  return { cert: tls.cert, key: tls.key };
}

/** A CertificateProvider whose certificates never change. */
class FixedCertificateProvider implements grpc.experimental.CertificateProvider {
  constructor(
    private readonly material: {
      identity?: grpc.experimental.IdentityCertificateUpdate;
      ca?: grpc.experimental.CaCertificateUpdate;
    },
  ) {}

  // grpc-js registers its own watcher only after adding these listeners, so an
  // update delivered synchronously would reach nobody: deliver it a tick later.
  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    queueMicrotask(() => listener(this.material.ca ?? null));
  }

  removeCaCertificateListener(): void {}

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    queueMicrotask(() => listener(this.material.identity ?? null));
  }

  removeIdentityCertificateListener(): void {}
}
