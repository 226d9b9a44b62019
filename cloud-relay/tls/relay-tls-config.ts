// The relay's `tls:` config section. One server certificate serves both
// endpoints (gRPC for agents and vendors, HTTPS for the feed API, status and
// metrics); a client CA turns on mutual TLS for gRPC, where an agent's client
// certificate becomes its hospital identity.
import { z } from 'zod';

export const RelayTlsSchema = z
  .strictObject({
    /** PEM server certificate (leaf first, then any intermediates); relative to the config file. */
    certFile: z.string().min(1),
    /** PEM private key of certFile, unencrypted, readable only by the relay's service user; relative to the config file. */
    keyFile: z.string().min(1),
    /**
     * PEM CA bundle that issues the hospitals' client certificates; relative to
     * the config file. Set, it turns on mutual TLS for gRPC: an agent's
     * certificate names its hospital, and hospitals[].secret becomes optional.
     */
    clientCaFile: z.string().min(1).optional(),
    /**
     * With clientCaFile: refuse, at the TLS handshake, every gRPC client without a
     * certificate from clientCaFile (vendors' Feeds.Subscribe included). false:
     * certificates are asked for but optional; agents without one must send their
     * hospital's secret, vendors need only their key. Default true.
     */
    requireClientCert: z.boolean().optional(),
  })
  .superRefine((tls, ctx) => {
    if (tls.requireClientCert !== undefined && tls.clientCaFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['requireClientCert'], message: 'needs clientCaFile, the CA that issues the hospitals\' client certificates' });
    }
  });
export type RelayTlsConfig = z.output<typeof RelayTlsSchema>;

/** requireClientCert when clientCaFile is set and requireClientCert is not. */
export const DEFAULT_REQUIRE_CLIENT_CERT = true;
