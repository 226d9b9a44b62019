// One signing key for every relay process on a database. Each process loads
// relay-signing.key from its own dataDir (made at its first start when missing);
// processes on several machines would each make their own, and the exports,
// purge receipts and tree heads they sign would verify against different keys.
// The first process keeps its public key in relay_signing_key (INSERT … ON
// CONFLICT DO NOTHING, so two first starts agree on one); every later start
// compares and refuses on a difference, before it takes any traffic.
import { SigningKeyMismatchError } from '../../errors.js';
import type { RelayDatabase } from './relay-database.js';

/**
 * Records `publicKeyText` as the key of `name` if none is kept yet; rejects with
 * SigningKeyMismatchError when the database keeps another.
 */
export async function agreeOnSigningKey(database: RelayDatabase, name: string, publicKeyText: string, keyFile: string, nowMs: number): Promise<void> {
  await database.query('INSERT INTO relay_signing_key (name, public_key, set_at_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [name, publicKeyText, nowMs]);
  const kept = (await database.query<{ public_key: string }>('SELECT public_key FROM relay_signing_key WHERE name = $1', [name])).rows[0]?.public_key;
  if (kept !== undefined && kept.trim() !== publicKeyText.trim()) throw new SigningKeyMismatchError(keyFile, database.description);
}
