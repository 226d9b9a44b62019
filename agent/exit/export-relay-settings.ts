// Which relay an agent-side export (or restore --from-relay) asks, and with
// which credentials: the ones the agent's replication link to it uses
// (relays[].address, .tls, the secret), so a hospital whose agent replicates can
// always fetch its export.
import type { LoadedAgentConfig } from '../config.js';
import { ExportFetchError } from './errors.js';
import type { FetchExportOptions } from './export-fetcher.js';

export type ExportRelaySettings = Pick<FetchExportOptions, 'address' | 'tls' | 'hospitalId' | 'secret'>;

/**
 * The connection settings of relays[] entry `relayName` (default: the only relay).
 * @throws ExportFetchError when the config has no relay, several and none named, or none of that name.
 */
export function exportRelaySettings(config: LoadedAgentConfig, relayName?: string): ExportRelaySettings {
  const names = config.relays.map((r) => r.name);
  if (relayName === undefined && config.relays.length !== 1) {
    throw new ExportFetchError(`${config.file} has ${config.relays.length === 0 ? 'no relays' : `relays ${names.join(', ')}`}: name the relay to export from with --relay`);
  }
  const relay = relayName === undefined ? config.relays[0]! : config.relays.find((r) => r.name === relayName);
  if (!relay) throw new ExportFetchError(`--relay ${relayName}: no such relay in relays[] of ${config.file} (it has: ${names.join(', ') || 'none'})`);
  return { address: relay.address, tls: config.relayTls.get(relay.name), hospitalId: config.hospital.id, secret: config.relaySecrets.get(relay.name) ?? '' };
}
