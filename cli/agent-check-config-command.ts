// `wardline agent check-config`: loads the config as `agent start` would (schema,
// secret files, certificates, password hash) and starts nothing. The unit runs it
// as ExecStartPre, so a wrong key is named once in the journal and the service
// stops with 78 (RestartPreventExitStatus) instead of restarting forever.
import { loadAgentConfig } from '../agent/index.js';

/** Exit 0 and one line when the config would start; a ConfigError (key, value, file) becomes exit 78 in the caller. */
export async function agentCheckConfigCommand(options: { config: string }): Promise<number> {
  const config = loadAgentConfig(options.config);
  for (const warning of config.secretFileWarnings) process.stderr.write(`wardline: warning: ${warning}\n`);
  process.stdout.write(`${options.config}: OK (hospital ${config.hospital.id}, ${config.sources.length} source(s), ${config.feeds.length} feed(s))\n`);
  return 0;
}
