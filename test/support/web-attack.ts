// Raw HTTP(S) requests for the agent web security tests: any Host header, any
// source address on the loopback network (127.x.y.z), a CA to trust, and the
// answer's status, headers and body, without fetch's rules about what a
// client may send.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Source address, e.g. 127.0.3.7: each one is another "machine" to the agent. */
  localAddress?: string;
  /** PEM CA to trust for https: URLs. */
  ca?: string | Buffer;
  timeoutMs?: number;
}

export function rawRequest(url: string, options: RawRequestOptions = {}): Promise<RawAnswer> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        headers: { ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }), ...options.headers },
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        ...(options.ca ? { ca: options.ca } : {}),
        timeout: options.timeoutMs ?? 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in time`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Polls an https URL until it answers 2xx, trusting `ca`. */
export async function waitForHttps(url: string, ca: string | Buffer, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if ((await rawRequest(url, { ca, timeoutMs: 1000 })).status < 300) return;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up: ${String(last)}`);
}

/** Sends one HL7 message over MLLP and resolves with the ACK's text. */
export function sendHl7(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(message.replaceAll('\n', '\r')), Buffer.from([0x1c, 0x0d])])));
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\x1c')) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', reject);
  });
}
