// The ledger of an agent.db opened from another process: the audit commands
// read it (also while the agent runs: WAL readers never block the writer), and
// commands that change what leaves (key rotation) append to it.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { openAgentDatabase } from '../store/index.js';
import type { JsonObject } from './canonical-json.js';
import { EgressLedger } from './egress-ledger.js';
import { LedgerUnavailableError } from './errors.js';
import type { LedgerRecord } from './ledger-record.js';

/** An agent.db opened for the audit commands. */
export interface AuditDatabase {
  ledger: EgressLedger;
  close(): void;
}

/**
 * Opens `dbFile` read-only and its ledger. Throws LedgerUnavailableError, with a
 * message for the operator, when the file is missing or predates the ledger.
 */
export function openLedgerForAudit(dbFile: string): AuditDatabase {
  if (!existsSync(dbFile)) throw new LedgerUnavailableError(dbFile, 'missing-file');
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const hasLedger = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'egress_ledger'").get();
  if (!hasLedger) {
    db.close();
    throw new LedgerUnavailableError(dbFile, 'no-ledger');
  }
  return { ledger: new EgressLedger(db), close: () => db.close() };
}

/**
 * Appends one administrative record (a key rotation, say) to the ledger of
 * `dbFile` from a process other than the agent, and closes the file. Safe while
 * the agent runs: the append takes SQLite's write lock and reads the head under it.
 */
export async function recordAdminAction(dbFile: string, action: string, details: JsonObject, feed: string | null = null): Promise<LedgerRecord> {
  const db = openAgentDatabase(dbFile);
  try {
    return await new EgressLedger(db).recordAdmin(action, details, feed);
  } finally {
    db.close();
  }
}
