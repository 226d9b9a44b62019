// Where the audit commands find an agent's ledger: the agent.db named by an
// agent config (its dataDir), or a database path given directly.
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { AgentConfigSchema } from '../agent/index.js';
import { loadConfigFile } from '../runtime/index.js';

export interface AuditSourceOptions {
  /** The agent's YAML config (dataDir and hospital id are read from it). */
  config?: string;
  /** agent.db itself, instead of a config. */
  db?: string;
  /** The hospital id, when no config is given. */
  hospital?: string;
}

/** The agent.db path and, when known, the hospital id. Throws when neither --config nor --db is given. */
export function auditSource(options: AuditSourceOptions): { dbFile: string; hospital: string | undefined } {
  if (options.db) return { dbFile: resolve(options.db), hospital: options.hospital };
  if (!options.config) throw new Error('give --config <agent.yaml> (or --db <agent.db>)');
  // Only the schema: an auditor need not be able to read the relay secrets the agent reads.
  const config = loadConfigFile(options.config, AgentConfigSchema);
  const dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(dirname(resolve(options.config)), config.dataDir);
  return { dbFile: join(dataDir, 'agent.db'), hospital: options.hospital ?? config.hospital.id };
}
