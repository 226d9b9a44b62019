// One TLS handshake to the relay with the agent's own TLS settings, to learn why
// grpc-js could not connect. grpc-js reports a refused client certificate, a
// plaintext peer or an untrusted CA as "Failed to connect before the deadline";
// the operator needs to know which. The probe opens a TLS connection offering
// HTTP/2 (as grpc-js does) and waits for the relay's first HTTP/2 frame: a
// server that refuses the client certificate does so just after the client
// finishes its half of a TLS 1.3 handshake, so "connected" alone proves little.
import { connect, type ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';

/** How one probe ended. */
export type TlsProbeResult =
  /** The handshake completed and the relay spoke HTTP/2: TLS is not the problem. */
  | { kind: 'ok' }
  /** The handshake failed (this side refused the relay, or the relay refused this side). */
  | { kind: 'handshake-failed'; code: string; message: string; afterHandshake: boolean }
  /** The relay closed the connection right after the handshake without an alert. */
  | { kind: 'closed-after-handshake' }
  /** The relay closed the connection before the handshake completed, without a TLS alert. */
  | { kind: 'closed-during-handshake' }
  /** TCP could not connect or was cut: a network problem, not a TLS one. */
  | { kind: 'unreachable'; code: string; message: string }
  | { kind: 'timeout' };

export interface TlsProbeOptions {
  host: string;
  port: number;
  /** PEM; undefined: the system's trusted CAs. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** The name to verify (and send as SNI); default host. */
  serverName?: string;
  /** false probes whether the peer speaks TLS at all, trusting anything. Default true. */
  verify?: boolean;
  /** Milliseconds. */
  timeoutMs: number;
}

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']);

/** Runs one probe; never rejects. */
export function probeTls(options: TlsProbeOptions): Promise<TlsProbeResult> {
  return new Promise((resolve) => {
    const name = options.serverName ?? options.host;
    const connectOptions: ConnectionOptions = {
      host: options.host,
      port: options.port,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: options.verify ?? true,
      // SNI carries DNS names only (RFC 6066); an IP is still verified against the certificate's IP SANs.
      ...(isIP(name) === 0 ? { servername: name } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.cert && options.key ? { cert: options.cert, key: options.key } : {}),
    };
    let handshakeDone = false;
    let settled = false;
    const socket = connect(connectOptions);
    const finish = (result: TlsProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), options.timeoutMs);
    socket.once('secureConnect', () => {
      handshakeDone = true;
    });
    socket.once('data', () => finish({ kind: 'ok' }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'UNKNOWN';
      if (NETWORK_ERRORS.has(code) && !handshakeDone && !/TLS|SSL/i.test(error.message)) {
        finish({ kind: 'unreachable', code, message: error.message });
      } else {
        finish({ kind: 'handshake-failed', code, message: error.message, afterHandshake: handshakeDone });
      }
    });
    socket.once('close', () => finish(handshakeDone ? { kind: 'closed-after-handshake' } : { kind: 'closed-during-handshake' }));
  });
}
