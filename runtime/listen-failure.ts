// Why a server could not bind its port, in the operator's words: the config key,
// the address as configured, what the system said, and the config file. Agent and
// relay raise their own coded error with this message (agent/errors.ts ListenError,
// cloud-relay/errors.ts ListenError), so `wardline … start` prints one line an
// operator can act on instead of a stack trace naming neither key nor file.
import type { ListenAddress } from './config-file.js';

/** What each errno a bind can fail with means, and where to look. */
const LISTEN_ERRNO_MEANINGS: Record<string, string> = {
  EADDRINUSE: 'the port is already in use by another process (find it with `ss -ltnp`), or another Wardline runs with this config',
  EACCES: 'not permitted: ports below 1024 need CAP_NET_BIND_SERVICE (the systemd unit grants it) or root',
  EADDRNOTAVAIL: 'no network interface of this machine has that address',
};

/** `host:port`, with brackets around an IPv6 host. */
export function formatListenAddress({ host, port }: ListenAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The errno a bind failed with (EADDRINUSE, …): from the error's code, else from its message (grpc-js only has it there). */
export function listenErrno(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  return /\b(E[A-Z]{4,})\b/.exec(String((error as Error | undefined)?.message ?? error))?.[1];
}

/**
 * `http.listen: cannot listen on 127.0.0.1:8480: the port is already in use … (EADDRINUSE); change http.listen or stop the other process (agent.yaml)`.
 */
export function listenFailureMessage(key: string, address: ListenAddress, file: string, error: unknown): string {
  const errno = listenErrno(error);
  const meaning = (errno && LISTEN_ERRNO_MEANINGS[errno]) ?? String((error as Error | undefined)?.message ?? error);
  return `${key}: cannot listen on ${formatListenAddress(address)}: ${meaning}${errno ? ` (${errno})` : ''}; change ${key} or free the address (${file})`;
}
