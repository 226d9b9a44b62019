import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports below the kernel's ephemeral range. A port the kernel hands out for
 * listen(0) can, once closed, be taken as the local port of any outgoing
 * connection (the integration suite opens thousands) before the process meant
 * for it binds it; ports below the range are never handed out that way.
 */
function portRange(): { low: number; high: number } {
  try {
    const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (ephemeralLow && ephemeralLow > 12_000) return { low: 10_000, high: ephemeralLow - 1 };
  } catch {
    // Not Linux: fall back to the kernel's choice below.
  }
  return { low: 0, high: 0 };
}

const RANGE = portRange();
/** Ports handed out by this process: never twice, even once closed again. */
const handedOut = new Set<number>();

function bindable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port free right now on 127.0.0.1. For tests whose processes restart and
 * must come back on the same port (port 0 would move them).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const candidate = RANGE.high > 0 ? RANGE.low + Math.floor(Math.random() * (RANGE.high - RANGE.low + 1)) : 0;
    if (handedOut.has(candidate)) continue;
    const port = await bindable(candidate);
    if (port !== undefined && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port on 127.0.0.1 between ${RANGE.low} and ${RANGE.high} after 200 tries`);
}
