// The --pubkey option of the exit commands: the relay's public key, from its
// operator by a channel the hospital trusts, read once here for all of them.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';

/** The key file's text, or undefined without --pubkey; a file that cannot be read is a usage error naming it. */
export function readPubkeyOption(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`--pubkey: cannot read ${path}: ${(error as Error).message}`);
  }
}
