// `wardline keys rotate`: a new active key of one kind, the previous one retired
// (kept for decrypting and for recomputing old pseudonyms), and retired keys older
// than `retainRetired` deleted. The first rotation of a kind creates its first key.
// The running agent keeps the keys it started with; the new key is used from its
// next start (and the policy version of every feed using it changes then).
//
// Failure modes handled:
//  1. A crash mid-rotation: the key file is written and synced before keyring.json
//     names it, and keyring.json is replaced atomically (temp file, fsync, rename,
//     fsync of the directory), so the keyring is always the old one or the new one.
//  2. A key id that already exists (two rotations in one instant): a fresh random
//     suffix, and the key file is created exclusively (never overwritten).
//  3. Permissions: the directory is created 0700 and key files 0600.
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_BYTES } from './field-encryption.js';
import { KEYRING_FILE, readKeyringManifest, type KeyKind, type KeyRotation, type KeyringManifest } from './keyring.js';

export interface RotateKeyOptions {
  /** The keys directory (`keys.dir`, resolved). */
  dir: string;
  kind: KeyKind;
  /** Retired keys older than this after their rotation are deleted, in ms. */
  retainRetiredMs: number;
  nowMs?: number;
  /** Source of key bytes and id suffixes; default crypto.randomBytes. */
  randomBytes?: (size: number) => Buffer;
}

const KIND_PREFIX: Record<KeyKind, string> = { pseudonym: 'p', encryption: 'e' };

/** Rotates one kind of key; returns what changed (for the egress ledger and the operator). */
export function rotateKey(options: RotateKeyOptions): KeyRotation {
  const nowMs = options.nowMs ?? Date.now();
  const random = options.randomBytes ?? cryptoRandomBytes;
  const at = new Date(nowMs).toISOString();
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const manifest = readKeyringManifest(options.dir);

  const day = at.slice(0, 10).replaceAll('-', '');
  let id: string;
  do id = `${KIND_PREFIX[options.kind]}-${day}-${random(3).toString('hex')}`;
  while (manifest.keys.some((k) => k.id === id));
  const file = `${options.kind}-${id}.key`;
  writeNewFile(join(options.dir, file), `${random(KEY_BYTES).toString('base64')}\n`);
  syncDirectory(options.dir);

  const previous = manifest.keys.find((k) => k.kind === options.kind && k.retiredAt === null);
  if (previous) previous.retiredAt = at;
  const expired = manifest.keys.filter((k) => k.retiredAt !== null && Date.parse(k.retiredAt) + options.retainRetiredMs <= nowMs);
  const rotation: KeyRotation = { kind: options.kind, keyId: id, retiredKeyId: previous?.id ?? null, purgedKeyIds: expired.map((k) => k.id), at };
  const next: KeyringManifest = {
    format: manifest.format,
    keys: [...manifest.keys.filter((k) => !expired.includes(k)), { kind: options.kind, id, file, createdAt: at, retiredAt: null }],
    rotations: [...manifest.rotations, rotation],
  };
  replaceFile(join(options.dir, KEYRING_FILE), `${JSON.stringify(next, null, 2)}\n`);
  // Only once the keyring no longer names them: a crash before this leaves files behind, never a dangling name.
  for (const key of expired) rmSync(join(options.dir, key.file), { force: true });
  syncDirectory(options.dir);
  return rotation;
}

/** Creates `path` (refusing to overwrite), 0600, and fsyncs it. */
function writeNewFile(path: string, text: string): void {
  writeDurably(path, text, 'wx');
}

/** Replaces `path` atomically: a durable temporary file renamed over it (key-destruction.ts too). */
export function replaceFile(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeDurably(temp, text, 'w');
  renameSync(temp, path);
}

function writeDurably(path: string, text: string, flags: 'w' | 'wx'): void {
  const fd = openSync(path, flags, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
