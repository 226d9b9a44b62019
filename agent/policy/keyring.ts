// The hospital-held keys: a directory (`keys.dir`, mode 0700) holding one file per
// key (32 random bytes, base64, mode 0600) and keyring.json, which says which key of
// each kind is active and which are retired (kept only to decrypt, or to recompute
// old pseudonyms, until `retainRetired` after their rotation).
//
//   keys/
//     keyring.json                  {"format":"wardline-keyring/1","keys":[…],"rotations":[…]}
//     pseudonym-p-20261121-a3f2.key
//     encryption-e-20261121-9c1d.key
//
// The agent only reads this directory (at start); `wardline keys rotate` is the only
// writer (key-rotation.ts). Nothing here ever leaves the hospital.
//
// Failure modes handled:
//  1. No directory or no keyring.json yet: an empty keyring; a policy that needs a
//     key then fails at start with KEY_MISSING and the command that makes one.
//  2. A key file missing, unreadable or not 32 bytes: KEYRING_INVALID naming it.
//  3. A key file others can read: loaded, with a warning for the log.
import { DEFAULT_SECRET_FILE_PERMISSIONS, looseSecretFileProblem, SECRET_FILE_PERMISSIONS_KEY, type SecretFilePermissions } from '../../runtime/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyErrorCode, PolicyKeyError } from './errors.js';
import { KEY_BYTES } from './field-encryption.js';
import type { HospitalKey } from './pseudonym.js';

export const KEYRING_FILE = 'keyring.json';
export const KEYRING_FORMAT = 'wardline-keyring/1';

export type KeyKind = 'pseudonym' | 'encryption';
export const KEY_KINDS: readonly KeyKind[] = ['pseudonym', 'encryption'];

export interface KeyringEntry {
  kind: KeyKind;
  id: string;
  /** File name inside the keys directory. */
  file: string;
  createdAt: string;
  /** When a newer key replaced it; null for the active key. */
  retiredAt: string | null;
}

/** One `wardline keys rotate`, as recorded in keyring.json and returned to the caller (the egress ledger). */
export interface KeyRotation {
  kind: KeyKind;
  /** The new active key. */
  keyId: string;
  /** The key it replaced, now retired; null when there was none. */
  retiredKeyId: string | null;
  /** Retired keys deleted because they were older than `retainRetired`. */
  purgedKeyIds: string[];
  /** ISO 8601. */
  at: string;
}

export interface KeyringManifest {
  format: typeof KEYRING_FORMAT;
  keys: KeyringEntry[];
  rotations: KeyRotation[];
}

export interface Keyring {
  dir: string;
  /** The active key of each kind, if there is one. */
  active: Partial<Record<KeyKind, HospitalKey>>;
  /** Active and retained retired keys, by kind and id (for decrypting). */
  lookup(kind: KeyKind, id: string): HospitalKey | undefined;
  entries: readonly KeyringEntry[];
  /** Problems worth a log line (a key file readable by others). */
  warnings: string[];
}

/** The manifest in `dir`, or an empty one when there is none yet. */
export function readKeyringManifest(dir: string): KeyringManifest {
  const file = join(dir, KEYRING_FILE);
  if (!existsSync(file)) return { format: KEYRING_FORMAT, keys: [], rotations: [] };
  let parsed: Partial<KeyringManifest>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<KeyringManifest>;
  } catch (cause) {
    throw new PolicyKeyError(`cannot read ${file}: ${(cause as Error).message}`, PolicyErrorCode.KEYRING_INVALID, { cause });
  }
  if (parsed.format !== KEYRING_FORMAT || !Array.isArray(parsed.keys)) {
    throw new PolicyKeyError(`${file} is not a Wardline keyring (expected "format": "${KEYRING_FORMAT}")`, PolicyErrorCode.KEYRING_INVALID);
  }
  return { format: KEYRING_FORMAT, keys: parsed.keys, rotations: Array.isArray(parsed.rotations) ? parsed.rotations : [] };
}

/**
 * Loads the keyring: every active key, and the retired keys whose retention has not
 * run out at `nowMs` (older ones are ignored even if their files are still there).
 * @throws PolicyKeyError KEYRING_INVALID naming the file.
 */
export function loadKeyring(dir: string, options: { retainRetiredMs: number; nowMs?: number; secretFilePermissions?: SecretFilePermissions }): Keyring {
  const nowMs = options.nowMs ?? Date.now();
  const manifest = readKeyringManifest(dir);
  const warnings: string[] = [];
  const byId = new Map<string, HospitalKey>();
  const active: Partial<Record<KeyKind, HospitalKey>> = {};
  for (const entry of manifest.keys) {
    const retained = entry.retiredAt === null || Date.parse(entry.retiredAt) + options.retainRetiredMs > nowMs;
    if (!retained) continue;
    const key = { id: entry.id, secret: readKeyFile(join(dir, entry.file), warnings, options.secretFilePermissions) };
    byId.set(`${entry.kind}/${entry.id}`, key);
    if (entry.retiredAt === null) {
      if (active[entry.kind]) throw new PolicyKeyError(`${join(dir, KEYRING_FILE)} has two active ${entry.kind} keys`, PolicyErrorCode.KEYRING_INVALID);
      active[entry.kind] = key;
    }
  }
  return { dir, active, lookup: (kind, id) => byId.get(`${kind}/${id}`), entries: manifest.keys, warnings };
}

/**
 * Reads a key file: 32 bytes written as base64 (44 characters) or hex (64).
 * @throws PolicyKeyError KEYRING_INVALID naming the file.
 */
export function readKeyFile(file: string, warnings: string[] = [], permissions: SecretFilePermissions = DEFAULT_SECRET_FILE_PERMISSIONS): Buffer {
  const loose = looseSecretFileProblem(file);
  if (loose !== undefined && permissions === 'refuse') {
    throw new PolicyKeyError(`key file ${loose}, or set ${SECRET_FILE_PERMISSIONS_KEY}: warn to start anyway`, PolicyErrorCode.KEYRING_INVALID);
  }
  if (loose !== undefined) warnings.push(`key file ${loose}; used anyway because ${SECRET_FILE_PERMISSIONS_KEY} is warn`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (cause) {
    throw new PolicyKeyError(`cannot read key file ${file}: ${(cause as Error).message}`, PolicyErrorCode.KEYRING_INVALID, { cause });
  }
  const secret = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/]{43}=$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (secret === undefined || secret.length !== KEY_BYTES) {
    throw new PolicyKeyError(`key file ${file} does not hold ${KEY_BYTES} bytes as base64 (44 characters) or hex (64)`, PolicyErrorCode.KEYRING_INVALID);
  }
  return secret;
}
