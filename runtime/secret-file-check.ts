// Secret files (relay and admin secrets, vendor keys, policy keys, TLS private
// keys) must be readable by their owner alone, as ssh insists for its keys: a
// secret another local account can read is a secret shared with that account.
// Both programs check every secret file they read at start; by default a file
// others can read or write stops the start with the file, its mode and the fix;
// `secretFilePermissions: warn` starts anyway and logs a warning for each.
import { groupOrOtherMode, octalMode } from './private-files.js';
import { z } from 'zod';
import { ConfigError } from './config-file.js';

/** What a program does with a secret file others can read: refuse to start (default) or warn and go on. */
export const SecretFilePermissionsSchema = z.enum(['refuse', 'warn']);
export type SecretFilePermissions = z.infer<typeof SecretFilePermissionsSchema>;
export const DEFAULT_SECRET_FILE_PERMISSIONS: SecretFilePermissions = 'refuse';

/** The config key that downgrades the refusal, named in every message. */
export const SECRET_FILE_PERMISSIONS_KEY = 'secretFilePermissions';

/**
 * Why `file` is not private to its owner (group or others may read or write it),
 * or undefined when it is, when it cannot be stat'ed (the read reports that), or on
 * Windows, where modes do not say who can read a file.
 */
export function looseSecretFileProblem(file: string): string | undefined {
  const mode = groupOrOtherMode(file);
  if (mode === undefined) return undefined;
  const access = (mode & 0o044) !== 0 ? 'read' : 'written';
  return `${JSON.stringify(file)} can be ${access} by other users (mode ${octalMode(mode)}); run chmod 600 ${file}`;
}

/** Checks secret files against one program's secretFilePermissions and keeps the warnings for its log. */
export class SecretFileCheck {
  readonly warnings: string[] = [];

  constructor(readonly permissions: SecretFilePermissions = DEFAULT_SECRET_FILE_PERMISSIONS) {}

  /**
   * When `file` is not private: pushes `key: … (source)` onto `problems` (refuse),
   * or keeps a warning (warn). Returns true when the file may be used.
   */
  check(file: string, key: string, source: string, problems: string[]): boolean {
    const problem = looseSecretFileProblem(file);
    if (problem === undefined) return true;
    if (this.permissions === 'refuse') {
      problems.push(`${key}: ${problem}, or set ${SECRET_FILE_PERMISSIONS_KEY}: warn to start anyway (${source})`);
      return false;
    }
    this.warnings.push(`${key}: ${problem} (${source}); used anyway because ${SECRET_FILE_PERMISSIONS_KEY} is warn`);
    return true;
  }
}

/** Checks `[file, configKey]` pairs; throws one ConfigError listing every file refused. */
export function checkSecretFiles(secrets: SecretFileCheck, files: readonly (readonly [string, string])[], source: string): void {
  const problems: string[] = [];
  for (const [file, key] of files) secrets.check(file, key, source, problems);
  if (problems.length > 0) throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`, source, problems);
}
