// `wardline keys destroy`: crypto-shredding. Every field encrypted under a
// destroyed encryption key — the backup feed's envelopes, any encrypted field of
// any feed — becomes unreadable wherever a copy of it lies (the relay, an export,
// a vendor's copy, a tape), this hospital included: the relay never held the key.
//
// Failure modes handled:
//  1. A crash mid-destruction: keyring.json stops naming the keys first (atomic
//     replace), then each key file is overwritten with random bytes, fsynced and
//     unlinked; a crash leaves an unnamed file of random bytes, never a named
//     key that is gone.
//  2. A name that is not there (another kind, a typo in the id): refused, nothing
//     destroyed (PolicyKeyError KEY_MISSING, naming the keys held).
//  3. The running agent holds its keys in memory from its start: the operator is
//     told to stop it first (the command cannot see into it); at its next start a
//     policy needing the destroyed kind fails with KEY_MISSING until a new key is
//     made (wardline keys rotate).
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyErrorCode, PolicyKeyError } from './errors.js';
import { replaceFile, syncDirectory } from './key-rotation.js';
import { KEYRING_FILE, readKeyringManifest, type KeyKind } from './keyring.js';

export interface KeyDestruction {
  kind: KeyKind;
  /** The keys destroyed: the active one (if it was among them) and retired ones. */
  keyIds: string[];
  /** Whether the active key of the kind was destroyed (a policy needing it fails at the next start until a rotation). */
  activeDestroyed: boolean;
  /** ISO 8601. */
  at: string;
}

/** Destroys every key of `kind` in `dir`, or only `keyId`; returns what it destroyed. */
export function destroyKeys(options: { dir: string; kind: KeyKind; keyId?: string; nowMs?: number }): KeyDestruction {
  const manifest = readKeyringManifest(options.dir);
  const ofKind = manifest.keys.filter((k) => k.kind === options.kind);
  const doomed = options.keyId === undefined ? ofKind : ofKind.filter((k) => k.id === options.keyId);
  if (doomed.length === 0) {
    const held = ofKind.map((k) => k.id).join(', ') || 'none';
    throw new PolicyKeyError(
      `${options.keyId === undefined ? `no ${options.kind} key` : `no ${options.kind} key "${options.keyId}"`} in ${options.dir} (${options.kind} keys held: ${held}); nothing was destroyed`,
      PolicyErrorCode.KEY_MISSING,
    );
  }
  const at = new Date(options.nowMs ?? Date.now()).toISOString();
  replaceFile(join(options.dir, KEYRING_FILE), `${JSON.stringify({ ...manifest, keys: manifest.keys.filter((k) => !doomed.includes(k)) }, null, 2)}\n`);
  syncDirectory(options.dir);
  for (const key of doomed) overwriteAndUnlink(join(options.dir, key.file));
  syncDirectory(options.dir);
  return { kind: options.kind, keyIds: doomed.map((k) => k.id), activeDestroyed: doomed.some((k) => k.retiredAt === null), at };
}

/** Random bytes over the whole file, fsynced, then unlinked (a missing file is already gone). */
function overwriteAndUnlink(path: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return;
  }
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, randomBytes(Math.max(size, 1)), 0, Math.max(size, 1), 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  rmSync(path, { force: true });
}
