// A relay and an agent as real processes, the agent dialling the relay through
// a FaultProxy: the line the link tests cut, blackhole and throttle.
import { FaultProxy } from './fault-proxy.js';
import { freePort } from './free-port.js';
import { makeTempDir } from './temp-dir.js';
import { until } from './until.js';
import { WardlinePair, type WardlinePairOptions } from './wardline-pair.js';

export interface ProxiedPair {
  dir: ReturnType<typeof makeTempDir>;
  pair: WardlinePair;
  proxy: FaultProxy;
  /** Stops both processes and the proxy, and removes the directory. */
  stop(): Promise<void>;
}

/**
 * Starts the relay, the proxy in front of it and the agent (hospital `${name}-hospital`),
 * and resolves once the link streams. `beforeAgent` runs once the proxy is up (shape the line there).
 */
export async function startProxiedPair(name: string, extra: Partial<WardlinePairOptions> = {}, beforeAgent?: (proxy: FaultProxy) => void): Promise<ProxiedPair> {
  const dir = makeTempDir(`wardline-${name}-`);
  const proxyPort = await freePort();
  const pair = await WardlinePair.create(dir.path, { hospital: `${name}-hospital`, relayAddressForAgent: () => `127.0.0.1:${proxyPort}`, ...extra });
  await pair.startRelay();
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: pair.ports.relayGrpc }, listenPort: proxyPort });
  beforeAgent?.(proxy);
  await pair.startAgent();
  await until('the link streaming', () => pair.agentStatus(), (s) => s.links[0]!.state === 'streaming', { timeoutMs: 20_000 });
  return {
    dir,
    pair,
    proxy,
    stop: async () => {
      await pair.stop();
      await proxy.stop();
      dir.remove();
    },
  };
}
