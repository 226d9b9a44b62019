// `wardline audit verify`: walks the egress ledger's hash chain — in the agent's
// database, or in an export — and names every record that was modified, deleted
// or reordered. With --relay-http it also compares the ledger heads the relay
// received with the agent's batches, which is how a cut-off tail shows.
// Exits 0 when the ledger verifies, 1 when it does not, 2 when it cannot be read.
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { openLedgerForAudit, verifyLedgerFile, type ChainVerification, type RelayLedgerHead } from '../agent/index.js';
import type { RelayStatus } from '../cloud-relay/index.js';
import { auditSource, type AuditSourceOptions } from './audit-source.js';

export interface AuditVerifyOptions extends AuditSourceOptions {
  /** An export (JSON lines) to verify instead of the database. */
  file?: string;
  /** The file is a --from/--to export: verify from its first record on. */
  partial?: boolean;
  /** The relay's HTTP address: its status holds the ledger heads it received. */
  relayHttp?: string;
  /** A file holding the relay's operator token, sent with GET /v1/status (trailing newline ignored). */
  relayTokenFile?: string;
  /** PEM CA that issued the relay's HTTPS certificate; default the system's. */
  ca?: string;
  json?: boolean;
}

export async function auditVerifyCommand(options: AuditVerifyOptions, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  let verification: ChainVerification;
  let source: string;
  try {
    // A file needs no config; the relay comparison needs the hospital id from one or from --hospital.
    const located = options.file && !options.config ? { dbFile: '', hospital: options.hospital } : auditSource(options);
    const relayHeads = options.relayHttp ? await fetchRelayHeads(options.relayHttp, located.hospital, options.ca, options.relayTokenFile) : [];
    if (options.file) {
      source = options.file;
      verification = await verifyLedgerFile(options.file, { relayHeads, partial: options.partial });
    } else {
      source = located.dbFile;
      const audit = openLedgerForAudit(located.dbFile);
      try {
        verification = audit.ledger.verify({ relayHeads });
      } finally {
        audit.close();
      }
    }
  } catch (error) {
    process.stderr.write(`cannot verify the ledger: ${(error as Error).message}\n`);
    return 2;
  }
  if (options.json) {
    write(`${JSON.stringify({ source, ...verification }, null, 2)}\n`);
    return verification.ok ? 0 : 1;
  }
  const span = verification.records === 0 ? 'no records' : `${verification.records} records, ${verification.firstIndex}..${verification.head!.index}, head ${verification.head!.hash}`;
  const relay = options.relayHttp ? `; ${verification.relayHeadsChecked} relay head(s) compared` : '';
  // A restored agent's ledger is whole from its restore record; what came before is the relay's heads' to show.
  const base = verification.restoreBase
    ? `; starts from a restore base: record ${verification.restoreBase.index + 1} (restore) continues head ${verification.restoreBase.index} ${verification.restoreBase.hash} as the relay exported it`
    : '';
  if (verification.ok) {
    write(`ledger OK: ${source}: ${span}${relay}${base}\n`);
    return 0;
  }
  const count = verification.problems.length + verification.moreProblems;
  write(`ledger FAILED: ${source}: ${count} problem(s) in ${span}${relay}${base}\n`);
  for (const problem of verification.problems) write(`  ${problem.kind.padEnd(14)} ${problem.message}\n`);
  if (verification.moreProblems > 0) write(`  … and ${verification.moreProblems} more\n`);
  return 1;
}

/** The ledger heads a relay holds for `hospital`, from its GET /v1/status. */
async function fetchRelayHeads(relayHttp: string, hospital: string | undefined, caFile: string | undefined, tokenFile: string | undefined): Promise<RelayLedgerHead[]> {
  if (!hospital) throw new Error('--relay-http needs the hospital id: give --config, or --hospital with --file or --db');
  const token = tokenFile === undefined ? undefined : readFileSync(tokenFile, 'utf8').replace(/\r?\n$/, '');
  const status = (await getJson(new URL('/v1/status', relayHttp), caFile, token)) as RelayStatus;
  const entry = status.hospitals.find((h) => h.id === hospital);
  if (!entry) throw new Error(`the relay at ${relayHttp} knows no hospital ${hospital}`);
  return (entry.ledgerHeads ?? [])
    .filter((h) => h.index > 0)
    .map((h) => ({ relay: `${status.relayId} (${relayHttp})`, feed: h.feed, index: h.index, hash: h.head, receivedAtMs: Date.parse(h.receivedAt) }));
}

/** GET a JSON document over HTTP or HTTPS (with a private CA, which fetch cannot be given). */
function getJson(url: URL, caFile: string | undefined, token: string | undefined): Promise<unknown> {
  const ca = caFile ? readFileSync(caFile) : undefined;
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsGet : httpGet)(url, { timeout: 10_000, headers, ...(ca ? { ca } : {}) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode === 401) return reject(new Error(`the relay at ${url.origin} needs its operator token for its status: pass --relay-token-file`));
        if (response.statusCode !== 200) return reject(new Error(`the relay at ${url.origin} answered HTTP ${response.statusCode} for its status`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(new Error(`the relay at ${url.origin} sent a status that is not JSON: ${(error as Error).message}`));
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`the relay at ${url.origin} did not answer within 10 s`)));
    request.on('error', reject);
  });
}
