// A program's own signing key, kept as two files: `<name>.key` (PKCS#8 PEM,
// mode 0600, never leaves the machine) and `<name>.pub` (minisign's public key
// format, for anyone who checks what the program signed). Created on first use,
// so a relay has a key from its first start and every later signature is by it.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMinisignKey, minisignKeyFrom, privateKeyPem, publicKeyText, type MinisignKey } from './minisign.js';
import { makePrivateDir, PRIVATE_FILE_MODE } from './private-files.js';

export interface SigningKeyFiles {
  key: MinisignKey;
  privateKeyFile: string;
  publicKeyFile: string;
}

/** The paths of `<name>.key` and `<name>.pub` in `dir`. */
export function signingKeyPaths(dir: string, name: string): { privateKeyFile: string; publicKeyFile: string } {
  return { privateKeyFile: join(dir, `${name}.key`), publicKeyFile: join(dir, `${name}.pub`) };
}

/**
 * Loads the key in `dir`, creating both files first when there is none. The
 * public key file is rewritten from the private key when it is missing.
 * @throws Error naming the file when the private key file is not an Ed25519 PKCS#8 PEM.
 */
export function loadOrCreateSigningKey(dir: string, name: string): SigningKeyFiles {
  const paths = signingKeyPaths(dir, name);
  if (!existsSync(paths.privateKeyFile)) {
    makePrivateDir(dir);
    const created = generateMinisignKey();
    // Written under a temporary name and renamed, so a crash never leaves a half-written key that later loads fail on.
    const temporary = `${paths.privateKeyFile}.tmp`;
    writeFileSync(temporary, privateKeyPem(created), { mode: PRIVATE_FILE_MODE });
    renameSync(temporary, paths.privateKeyFile);
  }
  const key = loadSigningKey(paths.privateKeyFile);
  if (!existsSync(paths.publicKeyFile)) writeFileSync(paths.publicKeyFile, publicKeyText(key));
  return { key, ...paths };
}

/** Loads a signing key from its private key file. */
export function loadSigningKey(privateKeyFile: string): MinisignKey {
  try {
    return minisignKeyFrom(readFileSync(privateKeyFile, 'utf8'));
  } catch (error) {
    throw new Error(`${privateKeyFile} is not an Ed25519 private key (PKCS#8 PEM): ${(error as Error).message}`, { cause: error });
  }
}
