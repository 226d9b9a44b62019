// The first check on every request and WebSocket upgrade the agent's HTTP
// listener sees, before any route: the Host header must name this agent.
//
// Failure modes handled:
//  1. DNS rebinding: a page on attacker.example whose name is re-pointed at the
//     agent's address is, to the browser, same-origin with the agent, so Origin
//     and Sec-Fetch-Site checks pass and the page can read records, pause feeds
//     and open the live channel. Its requests still say `Host: attacker.example`;
//     only names the agent answers to are let through.
//  2. An IP literal in Host cannot be rebound (the page's origin would be that
//     address, i.e. the agent itself), so any IP address is accepted: operators
//     reach an agent on 0.0.0.0 by whichever interface address they know.
//  3. HTTP/1.0 without Host, or a malformed one, is refused the same way.
// Kept in one place so every route (dashboard, admin, ingest, records) gets it
// without knowing about it.
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';

/** Host names every agent answers to: the loopback ones. */
export const LOOPBACK_HOST_NAMES: readonly string[] = ['localhost'];

/** `http.allowedHosts` in agent.yaml: extra names browsers and local apps use to reach the agent. */
export const AllowedHostsSchema = z
  .array(
    z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/, 'expected a DNS name without port, e.g. wardline.hospital.local')
      .transform(normalizeHostName),
  )
  .default([]);

/** Why a request was refused before routing, as the HTTP layer answers it. */
export interface RequestRefusal {
  status: number;
  code: string;
  message: string;
}

export interface RequestGuardOptions {
  /** http.listen's host: a name in it is allowed (a wildcard address adds nothing). */
  listenHost: string;
  /** http.allowedHosts. */
  allowedHosts: readonly string[];
}

/** Decides whether a request may be routed at all; see the file comment. */
export class RequestGuard {
  private readonly names: ReadonlySet<string>;

  constructor(options: RequestGuardOptions) {
    const names = new Set([...LOOPBACK_HOST_NAMES, ...options.allowedHosts.map(normalizeHostName)]);
    const listen = normalizeHostName(options.listenHost);
    if (listen !== '' && isIP(listen) === 0) names.add(listen);
    this.names = names;
  }

  /** null when `hostHeader` names this agent. */
  checkHost(hostHeader: string | undefined): RequestRefusal | null {
    const name = hostNameOf(hostHeader);
    if (name !== undefined && this.allows(name)) return null;
    return {
      status: 421,
      code: 'unknown_host',
      message: 'this agent does not answer to the host name the request was sent to; reach it by IP address, localhost, or a name listed in http.allowedHosts (agent.yaml)',
    };
  }

  check(req: IncomingMessage): RequestRefusal | null {
    return this.checkHost(req.headers.host);
  }

  private allows(name: string): boolean {
    return isIP(name) !== 0 || this.names.has(name) || name.endsWith('.localhost');
  }
}

/** The host name of a Host header without its port or IPv6 brackets, lower case; undefined when malformed. */
export function hostNameOf(hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined || hostHeader === '') return undefined;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+))(?::\d{1,5})?$/.exec(hostHeader);
  if (!match) return undefined;
  return match[1] ?? normalizeHostName(match[2]!);
}

function normalizeHostName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
