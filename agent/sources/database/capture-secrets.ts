// The database sources' passwords, read once at config load from their
// connection.passwordFile (checked like every secret file: owner-only).
import { readFileSync } from 'node:fs';
import { checkSecretFiles, ConfigError, type SecretFileCheck } from '../../../runtime/index.js';
import type { DatabaseConnectionConfig } from './capture-config.js';

/** Source name -> password, for every capture source with a passwordFile. */
export function loadCapturePasswords(
  sources: readonly { name: string; connection?: DatabaseConnectionConfig }[],
  at: (path: string) => string,
  configFile: string,
  secrets: SecretFileCheck,
): Map<string, string> {
  const passwords = new Map<string, string>();
  sources.forEach((source, i) => {
    const passwordFile = source.connection?.passwordFile;
    if (passwordFile === undefined) return;
    const file = at(passwordFile);
    const key = `sources[${i}].connection.passwordFile`;
    checkSecretFiles(secrets, [[file, key]], configFile);
    try {
      passwords.set(source.name, readFileSync(file, 'utf8').replace(/\r?\n$/, ''));
    } catch (error) {
      const problem = `${key}: cannot read ${file}: ${(error as Error).message} (${configFile})`;
      throw new ConfigError(`invalid config:\n  ${problem}`, configFile, [problem]);
    }
  });
  return passwords;
}
