// Who may use the data plane (GET /v1/records, POST /v1/ingest): a local
// application identified by its bearer token, or by its TLS client certificate
// when the agent's HTTP listener is HTTPS and asks for one, each allowed the
// streams http.clients lists. A request with neither is anonymous, and
// http.anonymousApps decides: loopback peers only (the default without clients),
// nobody (the default with clients), or anyone.
//
// Failure modes handled:
//  1. A guessed or stale token: 401, and the comparison is over SHA-256 digests
//     with timingSafeEqual against every client, so timing tells nothing about
//     which bytes were right or which client was near.
//  2. A valid token for the wrong stream: 403 naming the stream and the access,
//     so the application's operator can fix the config, not retry.
//  3. A request from the LAN to an agent without clients: 401 saying that only
//     loopback is served anonymously, and how to open it (rather than the old
//     silent full access).
//  4. A client certificate that TLS did not verify (self-signed, wrong CA): never
//     an identity; only `socket.authorized` peers are matched by fingerprint.
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { tokenDigest } from '../../http/index.js';
import type { LocalAppClient, LocalAppCredentials } from './local-app-config.js';

export type LocalAppAccess = 'read' | 'write';

export type LocalAppDecision =
  | { ok: true; /** null for an anonymous request. */ client: string | null }
  | { ok: false; status: 401 | 403; code: 'unauthorized' | 'forbidden'; message: string };

const CHALLENGE = 'Bearer realm="wardline-local-apps"';

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

export class LocalAppAuth {
  constructor(private readonly credentials: LocalAppCredentials) {}

  /** The header to send with a 401. */
  static readonly challenge = CHALLENGE;

  authorize(req: IncomingMessage, stream: string, access: LocalAppAccess): LocalAppDecision {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    let client: LocalAppClient | undefined;
    if (bearer) {
      client = this.byToken(bearer[1]!);
      if (!client) return { ok: false, status: 401, code: 'unauthorized', message: 'the bearer token is not one of http.clients' };
    } else {
      client = this.byCertificate(req);
    }
    if (client) {
      const allowed = access === 'read' ? client.read : client.write;
      if (allowed.has('*') || allowed.has(stream)) return { ok: true, client: client.name };
      return { ok: false, status: 403, code: 'forbidden', message: `client ${client.name} may not ${access} stream ${stream} (http.clients[].${access})` };
    }
    switch (this.credentials.anonymous) {
      case 'anyone':
        return { ok: true, client: null };
      case 'loopback':
        if (isLoopbackAddress(req.socket.remoteAddress)) return { ok: true, client: null };
        return { ok: false, status: 401, code: 'unauthorized', message: 'send "Authorization: Bearer <token>" of one of http.clients; without one only loopback is served (http.anonymousApps)' };
      case 'none':
        return { ok: false, status: 401, code: 'unauthorized', message: 'send "Authorization: Bearer <token>" of one of http.clients' };
    }
  }

  /** One line for the start log: who reaches the data plane. */
  describe(): { level: 'info' | 'warn'; message: string; fields: object } {
    const { clients, anonymous, anonymousExplicit } = this.credentials;
    const fields = { clients: clients.map((c) => c.name), anonymousApps: anonymous };
    if (anonymous === 'anyone') {
      return { level: 'warn', fields, message: 'http.anonymousApps is "anyone": /v1/records and /v1/ingest answer whoever reaches http.listen without credentials' };
    }
    if (clients.length === 0) {
      return {
        level: 'warn',
        fields,
        message: 'no http.clients configured: /v1/records and /v1/ingest answer loopback (127.0.0.1, ::1) only; add http.clients for local applications on the LAN',
      };
    }
    const anonymousText = anonymous === 'loopback' ? 'loopback without credentials too' : 'nobody without credentials';
    return { level: anonymousExplicit && anonymous === 'loopback' ? 'warn' : 'info', fields, message: `/v1/records and /v1/ingest answer http.clients by token or certificate, ${anonymousText}` };
  }

  private byToken(token: string): LocalAppClient | undefined {
    const digest = tokenDigest(token);
    let match: LocalAppClient | undefined;
    // Every client is compared, matched or not: the time taken does not depend on which one matched.
    for (const client of this.credentials.clients) {
      if (client.tokenDigest !== null && timingSafeEqual(client.tokenDigest, digest) && match === undefined) match = client;
    }
    return match;
  }

  private byCertificate(req: IncomingMessage): LocalAppClient | undefined {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
    const fingerprint = socket.getPeerCertificate().fingerprint256;
    if (!fingerprint) return undefined;
    return this.credentials.clients.find((c) => c.certificateSha256 === fingerprint);
  }
}
