// The demo's default ports, checked before anything is written or started, so a
// taken port gets one line saying what to do instead of a child's stack trace.
import { createServer } from 'node:net';
import { DEFAULT_AGENT_HTTP_PORT, DEFAULT_MLLP_PORT, DEFAULT_RELAY_GRPC_PORT, DEFAULT_RELAY_HTTP_PORT } from '../../protocol/index.js';

/** The simulated HIS's MLLP port (the downlink delivers into it): beside the agent's own MLLP listener. */
export const DEMO_HIS_PORT = DEFAULT_MLLP_PORT + 1;

/** The ports the demo listens on without --ephemeral-ports, in the order they are checked. */
export const DEMO_DEFAULT_PORTS: readonly number[] = [DEFAULT_AGENT_HTTP_PORT, DEFAULT_MLLP_PORT, DEFAULT_RELAY_GRPC_PORT, DEFAULT_RELAY_HTTP_PORT, DEMO_HIS_PORT];

/** The line the demo prints for a taken port. */
export function portInUseMessage(port: number): string {
  return `port ${port} is in use: use --ephemeral-ports`;
}

/** The first of `ports` that cannot be bound on 127.0.0.1 because it is in use, or undefined. */
export async function firstPortInUse(ports: readonly number[]): Promise<number | undefined> {
  for (const port of ports) {
    const taken = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
    });
    if (taken) return port;
  }
  return undefined;
}
