// Judges a capture of a HisWriter table from the rows alone: the source table's
// digest against the agent's local copy and a vendor feed, each key's versions in
// the journal (1, 2, 3…, again 1 after a delete: a repeat is a duplicate, a jump is
// a gap), and each multi-row transaction whole (its batch_size rows, consecutive
// seqs) — never a part of it.
import { createHash } from 'node:crypto';
import type { ThrowawayPostgres } from './throwaway-postgres.js';

/** One captured change as the journal or a feed holds it. */
export interface CapturedChange {
  seq: number;
  key: string;
  op: 'upsert' | 'delete';
  /** The row (for a delete, at least the key). */
  row: Record<string, unknown>;
  headers: Record<string, string>;
}

/** A row in the form the three copies are compared in: every value as text. */
function rowLine(row: Record<string, unknown>): string {
  return ['id', 'v', 'batch', 'batch_size', 'note'].map((c) => (row[c] === null || row[c] === undefined ? '∅' : String(row[c]))).join('|');
}

export interface TableDigest {
  rows: number;
  digest: string;
  /** key → row line, for naming the differences. */
  lines: Map<string, string>;
}

export function digestRows(rows: Iterable<[string, Record<string, unknown>]>): TableDigest {
  const lines = new Map<string, string>();
  for (const [key, row] of rows) lines.set(key, rowLine(row));
  const hash = createHash('sha256');
  for (const key of [...lines.keys()].sort()) hash.update(`${key}\t${lines.get(key)}\n`);
  return { rows: lines.size, digest: hash.digest('hex'), lines };
}

/** Every row of the source table, read by the server itself. */
export async function digestSourceTable(server: ThrowawayPostgres, table: string, database = 'postgres'): Promise<TableDigest> {
  const result = await server.query<Record<string, unknown>>(`SELECT id, v, batch, batch_size, note FROM ${table}`, [], database);
  return digestRows(result.rows.map((r) => [String(r.id), r]));
}

/** The current state a stream of changes ends in (a local copy rebuilt from a feed). */
export function replayChanges(changes: readonly CapturedChange[]): Map<string, Record<string, unknown>> {
  const state = new Map<string, Record<string, unknown>>();
  for (const c of [...changes].sort((a, b) => a.seq - b.seq)) {
    if (c.op === 'delete') state.delete(c.key);
    else state.set(c.key, c.row);
  }
  return state;
}

export interface DigestComparison {
  missing: string[];
  extra: string[];
  different: string[];
}

/** Keys the copy lacks, has in excess, or holds with other values than the source. */
export function compareDigests(source: TableDigest, copy: TableDigest): DigestComparison {
  const missing: string[] = [];
  const different: string[] = [];
  for (const [key, line] of source.lines) {
    const other = copy.lines.get(key);
    if (other === undefined) missing.push(key);
    else if (other !== line) different.push(key);
  }
  const extra = [...copy.lines.keys()].filter((k) => !source.lines.has(k));
  return { missing, extra, different };
}

export interface ChangeAudit {
  changes: number;
  /** A key whose version came again (a transaction delivered twice). */
  duplicates: string[];
  /** A key whose version jumped (a change lost). */
  gaps: string[];
  /** A multi-row transaction seen with fewer or more rows than it wrote, or interleaved with others. */
  partialTransactions: string[];
  /** Multi-row transactions seen whole. */
  wholeTransactions: number;
}

/**
 * Each key's versions in seq order: an upsert is 1 after nothing or a delete, else the
 * previous + 1. A snapshot row (headers.snapshot) starts the key over at whatever it
 * read. Multi-row transactions (batch_size > 1, not from a snapshot) must appear with
 * exactly batch_size rows on consecutive seqs. Reported lists are capped for messages.
 */
export function auditChanges(changes: readonly CapturedChange[]): ChangeAudit {
  const ordered = [...changes].sort((a, b) => a.seq - b.seq);
  const last = new Map<string, number | 'deleted'>();
  const duplicates: string[] = [];
  const gaps: string[] = [];
  const batches = new Map<string, { size: number; seqs: number[] }>();
  for (const c of ordered) {
    const snapshot = c.headers.snapshot === 'true';
    if (c.op === 'delete') {
      last.set(c.key, 'deleted');
      continue;
    }
    const v = Number(c.row.v);
    const previous = last.get(c.key);
    if (!snapshot) {
      const expected = previous === undefined || previous === 'deleted' ? 1 : previous + 1;
      // A key first seen mid-life (captured from a later start, e.g. snapshot: never) has nothing to compare with.
      if (previous !== undefined && v !== expected) (v < expected ? duplicates : gaps).push(`${c.key}: v${v} after ${String(previous)} at seq ${c.seq}`);
      else if (previous === undefined && v !== 1) gaps.push(`${c.key}: first seen at v${v} (seq ${c.seq})`);
      const size = Number(c.row.batch_size);
      if (size > 1) {
        const batch = String(c.row.batch);
        const entry = batches.get(batch) ?? { size, seqs: [] };
        entry.seqs.push(c.seq);
        batches.set(batch, entry);
      }
    }
    last.set(c.key, v);
  }
  const partialTransactions: string[] = [];
  let wholeTransactions = 0;
  for (const [batch, { size, seqs }] of batches) {
    const consecutive = seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1);
    if (seqs.length === size && consecutive) wholeTransactions += 1;
    else partialTransactions.push(`batch ${batch}: ${seqs.length} of ${size} rows at seqs ${seqs.slice(0, 25).join(',')}`);
  }
  return { changes: ordered.length, duplicates: duplicates.slice(0, 50), gaps: gaps.slice(0, 50), partialTransactions: partialTransactions.slice(0, 50), wholeTransactions };
}
