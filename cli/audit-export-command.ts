// `wardline audit export --out FILE`: writes the egress ledger for auditors as
// JSON lines, each record with its hash and its predecessor's, so they can
// re-verify it themselves (README "Egress ledger and audit" gives the encoding).
// Exits 0 when written, 1 when rows could not be read (left out, named), 2 on failure.
import { statSync } from 'node:fs';
import { exportLedger, openLedgerForAudit, type LedgerExportRange } from '../agent/index.js';
import { auditSource, type AuditSourceOptions } from './audit-source.js';

export interface AuditExportOptions extends AuditSourceOptions {
  out: string;
  /** A record index, or an ISO 8601 date or time (inclusive). */
  from?: string;
  to?: string;
}

export async function auditExportCommand(options: AuditExportOptions, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  let range: LedgerExportRange;
  try {
    range = { ...bound('from', options.from), ...bound('to', options.to) };
    // The export is written beside --out and renamed over it: over /dev/stdout or a pipe that would replace
    // the device node itself (as root), so only a regular file, or a path not there yet, is accepted.
    const existing = statSync(options.out, { throwIfNoEntry: false });
    if (existing && !existing.isFile()) throw new Error(`--out: ${options.out} is not a regular file; give the path of the file to write (the export is written beside it, then renamed into place)`);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  try {
    const { dbFile } = auditSource(options);
    const audit = openLedgerForAudit(dbFile);
    try {
      const result = await exportLedger(audit.ledger.records(range.fromIndex, range.toIndex), options.out, range);
      const span = result.records === 0 ? 'no records' : `${result.records} records (${result.firstIndex}..${result.lastIndex})`;
      const partial = result.firstIndex !== null && result.firstIndex > 1 ? ' --partial' : '';
      write(`exported ${span} from ${dbFile} to ${options.out}; verify with: wardline audit verify --file ${options.out}${partial}\n`);
      for (const row of result.unreadable) write(`  record ${row.index ?? '?'} could not be read and was left out: ${row.reason}\n`);
      return result.unreadable.length > 0 ? 1 : 0;
    } finally {
      audit.close();
    }
  } catch (error) {
    process.stderr.write(`cannot export the ledger: ${(error as Error).message}\n`);
    return 2;
  }
}

/** --from / --to: a record index, or a date or time (a date alone means its first or last millisecond, UTC). */
function bound(which: 'from' | 'to', text: string | undefined): LedgerExportRange {
  if (text === undefined) return {};
  if (/^\d+$/.test(text)) return which === 'from' ? { fromIndex: Number(text) } : { toIndex: Number(text) };
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const ms = Date.parse(dateOnly ? `${text}T00:00:00.000Z` : text);
  if (!Number.isFinite(ms)) throw new Error(`--${which}: expected a record index or an ISO 8601 date or time, got "${text}"`);
  if (which === 'from') return { fromMs: ms };
  return { toMs: dateOnly ? ms + 86_400_000 - 1 : ms };
}
