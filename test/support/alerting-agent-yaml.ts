// agent.yaml for an agent that raises alerts within seconds: its relay's port
// has nobody listening ("link lost" after 1 s) and its MLLP source hears
// nothing ("source silent" after 2 s). The alert sinks under test are added.
import { freePort } from './free-port.js';

/** @param sinks YAML lines for the sinks, each indented two spaces (they go under `alerts:`). */
export async function alertingAgentYaml(hospital: string, sinks: string): Promise<string> {
  return `hospital: { id: ${hospital} }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0" }
sources: [{ kind: mllp, name: lis, listen: "127.0.0.1:0" }]
relays: [{ name: cloud, address: "127.0.0.1:${await freePort()}", secret: "${hospital}-secret-0123456789", allowPlaintext: true, connectTimeoutMs: 500 }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
replication: { backoff: { initialMs: 200, maxMs: 500 } }
alerts:
  linkLostAfter: 1s
  settleAfter: 2s
  quietPeriods: { lis: 2s }
${sinks.replace(/\n*$/, '\n')}`;
}
