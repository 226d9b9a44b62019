// `wardline keys rotate` and `wardline keys list`: the hospital-held pseudonym and
// encryption keys in `keys.dir` (agent/policy/keyring.ts). Rotation makes a new
// active key and retires the old one (kept for decrypting until keys.retainRetired
// has passed, then purged by a later rotation). The running agent picks the new key
// up at its next start; every feed using it then carries a new policy version.
import { KEY_KINDS, loadAgentConfig, readKeyringManifest, rotateKey, type KeyKind, type KeyRotation, type LoadedAgentConfig } from '../agent/index.js';
import { ConfigError } from '../runtime/index.js';

export interface KeysRotateOptions {
  config: string;
  kind: string;
  json?: boolean;
}

/** Rotates one kind of key; prints what changed; returns the rotation (for the egress ledger). */
export function keysRotateCommand(options: KeysRotateOptions, write: (text: string) => void = (t) => process.stdout.write(t)): KeyRotation {
  if (!KEY_KINDS.includes(options.kind as KeyKind)) {
    throw new ConfigError(`--kind must be one of ${KEY_KINDS.join(', ')}, got "${options.kind}"`, options.config, []);
  }
  const keys = keysSection(loadAgentConfig(options.config));
  const rotation = rotateKey({ dir: keys.dir, kind: options.kind as KeyKind, retainRetiredMs: keys.retainRetired });
  if (options.json) {
    write(`${JSON.stringify(rotation)}\n`);
  } else {
    write(
      [
        `new active ${rotation.kind} key ${rotation.keyId} in ${keys.dir}`,
        rotation.retiredKeyId ? `retired ${rotation.retiredKeyId} (kept for decrypting for ${Math.round(keys.retainRetired / 86_400_000)} days)` : `(the first ${rotation.kind} key)`,
        rotation.purgedKeyIds.length > 0 ? `purged retired keys past their retention: ${rotation.purgedKeyIds.join(', ')}` : 'no retired key was past its retention',
        'restart the agent to use it; feeds whose policies use this key will carry a new policy version',
        '',
      ].join('\n'),
    );
  }
  return rotation;
}

/** Prints the keyring: every key, active or retired, and until when a retired key is kept. */
export function keysListCommand(options: { config: string; json?: boolean }, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  const keys = keysSection(loadAgentConfig(options.config));
  const manifest = readKeyringManifest(keys.dir);
  if (options.json) {
    write(`${JSON.stringify(manifest.keys)}\n`);
    return;
  }
  if (manifest.keys.length === 0) {
    write(`no keys in ${keys.dir}; make them with wardline keys rotate --kind pseudonym|encryption --config ${options.config}\n`);
    return;
  }
  for (const key of manifest.keys) {
    const state = key.retiredAt === null ? 'active' : `retired ${key.retiredAt}, kept until ${new Date(Date.parse(key.retiredAt) + keys.retainRetired).toISOString()}`;
    write(`${key.kind.padEnd(11)} ${key.id.padEnd(20)} created ${key.createdAt}  ${state}\n`);
  }
}

export function keysSection(config: LoadedAgentConfig): NonNullable<LoadedAgentConfig['keys']> {
  if (!config.keys) {
    const problem = `keys: expected a keys section with dir (where the hospital-held keys live), got nothing (${config.file})`;
    throw new ConfigError(`invalid config:\n  ${problem}`, config.file, [problem]);
  }
  return config.keys;
}
