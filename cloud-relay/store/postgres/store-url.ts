// The PostgreSQL URL of a `store: { kind: postgres }` section: `url` as given,
// or the contents of `urlFile` (a secret file, so a password stays out of
// relay.yaml), its trailing newline dropped.
import { readFileSync } from 'node:fs';
import type { PostgresStoreConfig } from '../store-config.js';

/** The URL the store section names; throws with the file's name when urlFile cannot be read or is empty. */
export function postgresStoreUrl(store: PostgresStoreConfig): string {
  if (store.url !== undefined) return store.url;
  let text: string;
  try {
    text = readFileSync(store.urlFile!, 'utf8');
  } catch (cause) {
    throw new Error(`store.urlFile: cannot read ${store.urlFile}: ${(cause as Error).message}`, { cause });
  }
  const url = text.replace(/\r?\n$/, '').trim();
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`store.urlFile: ${store.urlFile} does not hold a postgres:// or postgresql:// URL`);
  return url;
}
