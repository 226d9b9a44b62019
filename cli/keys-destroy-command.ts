// `wardline keys destroy --kind encryption [--key ID] -c agent.yaml [--yes]`:
// crypto-shredding (agent/policy/key-destruction.ts). Says what becomes
// unreadable, asks the operator to type the kind to confirm (or --yes), destroys
// the keys and records it in the egress ledger ('key-destroyed').
import { InvalidArgumentError } from 'commander';
import { destroyKeys, KEY_KINDS, loadAgentConfig, recordAdminAction, type KeyKind } from '../agent/index.js';
import { auditSource } from './audit-source.js';
import { confirmByTyping } from './confirm-prompt.js';
import { keysSection } from './keys-command.js';

export interface KeysDestroyOptions {
  config: string;
  kind: string;
  key?: string;
  yes?: boolean;
}

export const DESTROY_WARNING = (kind: string, key: string | undefined) =>
  kind === 'encryption'
    ? `This destroys ${key ? `encryption key ${key}` : 'every encryption key (active and retired)'}. Every field encrypted under ${key ? 'it' : 'them'} — ` +
      'every event of a backup feed, and every encrypted field of any feed — becomes unreadable for good wherever a copy of it lies: ' +
      'at the relay, in exports, in any vendor\'s or operator\'s copy, on any tape; also for this hospital (restoring from that backup feed becomes impossible). ' +
      'The local copy here is not encrypted and is not touched. Stop the agent first: it holds its keys in memory until it stops. It cannot be undone.'
    : `This destroys ${key ? `pseudonym key ${key}` : 'every pseudonym key'}: pseudonyms made with ${key ? 'it' : 'them'} can no longer be recomputed or linked to new ones. Stop the agent first. It cannot be undone.`;

/** Destroys the keys after confirmation; records it; exit 0, or 2 when not confirmed. */
export async function keysDestroyCommand(options: KeysDestroyOptions, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  if (!KEY_KINDS.includes(options.kind as KeyKind)) throw new InvalidArgumentError(`--kind must be one of ${KEY_KINDS.join(', ')}, got "${options.kind}"`);
  const config = loadAgentConfig(options.config);
  const keys = keysSection(config);
  const warning = DESTROY_WARNING(options.kind, options.key);
  if (!options.yes && !(await confirmByTyping(warning, `destroy ${options.kind}`))) {
    process.stderr.write(`${warning}\nnot confirmed: nothing was destroyed (type "destroy ${options.kind}" at the prompt, or pass --yes)\n`);
    return 2;
  }
  const destroyed = destroyKeys({ dir: keys.dir, kind: options.kind as KeyKind, ...(options.key === undefined ? {} : { keyId: options.key }) });
  write(`destroyed ${destroyed.kind} key(s) ${destroyed.keyIds.join(', ')} in ${keys.dir} (overwritten, then deleted)\n`);
  if (destroyed.activeDestroyed) write(`there is no active ${destroyed.kind} key now: a feed whose policy needs one refuses to start until you make one (wardline keys rotate --kind ${destroyed.kind} -c ${options.config})\n`);
  try {
    const record = await recordAdminAction(auditSource({ config: options.config }).dbFile, 'key-destroyed', { kind: destroyed.kind, keyIds: destroyed.keyIds, activeDestroyed: destroyed.activeDestroyed, destroyedAt: destroyed.at });
    write(`recorded in the egress ledger (record ${record.index})\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`the keys were destroyed, but it could not be recorded in the egress ledger: ${(error as Error).message} (run as the agent's service user)\n`);
    return 1;
  }
}
