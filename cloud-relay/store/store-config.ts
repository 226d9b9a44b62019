// Where the relay keeps its database: `relay.db` inside the config's dataDir.
import { join } from 'node:path';

/** The relay's SQLite file inside `dataDir`. */
export const RELAY_DB_FILE = 'relay.db';

/** The database file of a relay whose dataDir is `dataDir`. */
export function relayDatabaseFile(dataDir: string): string {
  return join(dataDir, RELAY_DB_FILE);
}
