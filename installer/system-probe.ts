// Gathers SystemFacts from the machine: systeminformation for OS, CPU and
// memory; statfs for the data disk; a real bind for each port; DNS and a TCP
// connect for the relay.
import { lookup } from 'node:dns/promises';
import { existsSync, statfsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname } from 'node:path';
import { cpu as siCpu, mem as siMem, osInfo as siOsInfo } from 'systeminformation';
import { parseHostPort } from '../runtime/index.js';
import type { SystemFacts } from './preflight.js';

export interface ProbeRequest {
  dataDir: string;
  listens: string[];
  relayAddress?: string;
  relayTimeoutMs?: number;
}

/** The interface tests replace. */
export interface SystemProbe {
  gather(request: ProbeRequest): Promise<SystemFacts>;
}

export function diskFreeBytes(path: string): number | undefined {
  let dir = path;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

export function portFree(listen: string): Promise<{ free: boolean; detail?: string }> {
  const address = parseHostPort(listen);
  if (!address) return Promise.resolve({ free: false, detail: 'not host:port' });
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve({ free: false, detail: error.code ?? error.message }));
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => server.close(() => resolve({ free: true })));
  });
}

export async function relayAnswers(address: string, timeoutMs: number): Promise<{ resolved: boolean; answered: boolean; detail: string }> {
  const parsed = parseHostPort(address);
  if (!parsed) return { resolved: false, answered: false, detail: 'not host:port' };
  try {
    await lookup(parsed.host);
  } catch (error) {
    return { resolved: false, answered: false, detail: `does not resolve (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  return new Promise((resolve) => {
    const socket = createConnection({ host: parsed.host, port: parsed.port });
    const done = (answered: boolean, detail: string) => {
      socket.destroy();
      resolve({ resolved: true, answered, detail });
    };
    socket.setTimeout(timeoutMs, () => done(false, `no answer within ${timeoutMs} ms (the line may not be up yet)`));
    socket.once('connect', () => done(true, 'answers'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(false, `resolves, but ${error.code ?? error.message}`));
  });
}

export const realSystemProbe: SystemProbe = {
  async gather(request) {
    const [os, cpu, mem] = await Promise.all([siOsInfo().catch(() => undefined), siCpu().catch(() => undefined), siMem().catch(() => undefined)]);
    const ports = await Promise.all(request.listens.map(async (listen) => ({ listen, ...(await portFree(listen)) })));
    const relay = request.relayAddress ? { address: request.relayAddress, ...(await relayAnswers(request.relayAddress, request.relayTimeoutMs ?? 2000)) } : undefined;
    return {
      platform: process.platform,
      arch: process.arch,
      ...(os ? { distro: `${os.distro} ${os.release}`.trim() } : {}),
      nodeVersion: process.version,
      ...(cpu ? { cpus: cpu.cores } : {}),
      ...(mem ? { memoryTotalBytes: mem.total } : {}),
      ...(diskFreeBytes(request.dataDir) === undefined ? {} : { diskFreeBytes: diskFreeBytes(request.dataDir)! }),
      ports,
      nowMs: Date.now(),
      ...(relay ? { relay } : {}),
    };
  },
};
