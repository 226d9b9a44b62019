// The egress ledger as a file for auditors: JSON lines, one record per line in
// index order, each line the canonical JSON of the record's hashed form plus its
// "hash" (ledger-record.ts documents the encoding). Anyone can re-verify a file
// without Wardline; `wardline audit verify --file` does it with this code.
//
// A partial export (--from/--to) starts mid-chain: its first record's prevHash
// is the hash of the record before it, which is where it joins the full ledger
// (or a relay's head). Verifying it alone checks everything from there on.
import { restoreAnchor } from './restore-base.js';
import { once } from 'node:events';
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { canonicalJson } from './canonical-json.js';
import { ChainVerifier, type ChainVerification, type ChainVerifierOptions, type UnreadableRecord } from './chain-verifier.js';
import { LedgerFormatError } from './errors.js';
import { fromLedgerLine, GENESIS_HEAD, toLedgerLine, type LedgerHead, type LedgerRecord } from './ledger-record.js';

/** Which records to export; every bound inclusive and optional. */
export interface LedgerExportRange {
  fromIndex?: number;
  toIndex?: number;
  /** Milliseconds since the epoch. */
  fromMs?: number;
  toMs?: number;
}

export interface LedgerExportResult {
  /** Lines written. */
  records: number;
  firstIndex: number | null;
  lastIndex: number | null;
  /** Rows that could not be read and were left out (the file's verify will report them missing). */
  unreadable: UnreadableRecord[];
}

/**
 * Writes the records in `range` to `file` as JSON lines. The file appears only
 * once complete (written beside it, then renamed).
 */
export async function exportLedger(records: Iterable<LedgerRecord | UnreadableRecord>, file: string, range: LedgerExportRange = {}): Promise<LedgerExportResult> {
  const partial = `${file}.partial`;
  const out = createWriteStream(partial, { encoding: 'utf8', mode: 0o600 });
  const result: LedgerExportResult = { records: 0, firstIndex: null, lastIndex: null, unreadable: [] };
  try {
    for (const record of records) {
      if (record.index !== null && (record.index < (range.fromIndex ?? 1) || record.index > (range.toIndex ?? Number.MAX_SAFE_INTEGER))) continue;
      if ('unreadable' in record) {
        result.unreadable.push(record);
        continue;
      }
      if (record.atMs < (range.fromMs ?? -Infinity) || record.atMs > (range.toMs ?? Infinity)) continue;
      result.firstIndex ??= record.index;
      result.lastIndex = record.index;
      result.records++;
      // Auditors' files can be tens of gigabytes: wait for the disk rather than buffer.
      if (!out.write(`${canonicalJson(toLedgerLine(record))}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    renameSync(partial, file);
    return result;
  } catch (error) {
    out.destroy();
    rmSync(partial, { force: true });
    throw error;
  }
}

/** Reads a ledger file line by line: records, or what was wrong with a line. */
export async function* readLedgerFile(file: string): AsyncGenerator<LedgerRecord | UnreadableRecord> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let position = 0;
  for await (const line of lines) {
    position++;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      yield { unreadable: true, index: null, position, reason: `line ${position} is not JSON (${(error as Error).message})` };
      continue;
    }
    try {
      yield fromLedgerLine(parsed);
    } catch (error) {
      if (!(error instanceof LedgerFormatError)) throw error;
      const index = typeof (parsed as { index?: unknown }).index === 'number' ? (parsed as { index: number }).index : null;
      yield { unreadable: true, index, position, reason: `line ${position}: ${error.message}` };
    }
  }
}

/**
 * Verifies a ledger file from record 1 (its first line must be record 1, so
 * lines cut from the start are found), or, with `partial`, from whatever record
 * it starts at, anchored at that record's prevHash (a --from/--to export).
 */
export async function verifyLedgerFile(file: string, options: Omit<ChainVerifierOptions, 'anchor'> & { partial?: boolean } = {}): Promise<ChainVerification> {
  let verifier: ChainVerifier | undefined;
  let restoreBase: LedgerHead | undefined;
  for await (const record of readLedgerFile(file)) {
    if (!verifier) {
      restoreBase = 'unreadable' in record ? undefined : restoreAnchor(record);
      const anchor = restoreBase ?? (!options.partial || 'unreadable' in record ? GENESIS_HEAD : { index: record.index - 1, hash: record.prevHash });
      verifier = new ChainVerifier({ ...options, anchor });
    }
    verifier.push(record);
  }
  const verification = (verifier ?? new ChainVerifier(options)).finish();
  return restoreBase ? { ...verification, restoreBase } : verification;
}
