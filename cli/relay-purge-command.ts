// `wardline relay purge -c relay.yaml --hospital H [--feed F] [--yes]`: the
// operator's purge at contract end (or of one feed). The running relay does it
// (POST /v1/operator/purge with the operator token): it holds the database
// open and keeps feed positions in memory, so a second process writing the
// database would leave the running relay serving and accepting from a stale
// cache. When the relay is not running, the command says so and deletes nothing.
// The receipt and its signature are written to files, with the minisign check.
// Exits 0 with the receipt, 2 when refused or the relay cannot be reached.
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { loadRelayConfig, RELAY_SIGNING_KEY_NAME } from '../cloud-relay/index.js';
import { confirmByTyping } from './confirm-prompt.js';

export interface RelayPurgeCommandOptions {
  config: string;
  hospital: string;
  feed?: string;
  reason?: string;
  yes?: boolean;
  /** Where to write the receipt (and `${file}.minisig`); default purge-receipt-<hospital>[-<feed>].json. */
  receiptOut?: string;
  /** The relay's HTTP address; default from http.listen (127.0.0.1 for a wildcard address). */
  url?: string;
  /** A file holding the operator token; default http.operatorTokenFile. */
  tokenFile?: string;
  /** PEM CA of the relay's HTTPS certificate. */
  ca?: string;
}

export async function relayPurgeCommand(options: RelayPurgeCommandOptions, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const config = loadRelayConfig(options.config);
  const what = options.feed === undefined ? `every feed of hospital ${options.hospital}, and the ledger heads its agents sent` : `feed ${options.feed} of hospital ${options.hospital}`;
  const warning =
    `This purges ${what} at relay ${config.relayId}: events, imaging chunks, positions and proofs are deleted and overwritten in ${config.dataDir}. ` +
    'It cannot be undone; batches of a purged feed are refused from then on.';
  const expected = options.feed ?? options.hospital;
  if (!options.yes && !(await confirmByTyping(warning, expected))) {
    process.stderr.write(`${warning}\nnot confirmed: nothing was purged (type ${JSON.stringify(expected)} at the prompt, or pass --yes)\n`);
    return 2;
  }
  const tokenFile = options.tokenFile ?? config.http.operatorTokenFile;
  if (!tokenFile) {
    process.stderr.write(`a purge needs the relay's operator token: pass --token-file (${options.config} has only http.operatorTokenSha256, or no operator token at all); nothing was purged\n`);
    return 2;
  }
  const token = readFileSync(tokenFile, 'utf8').trim();
  const listen = config.http.listen;
  const host = listen.host === '0.0.0.0' || listen.host === '::' || listen.host === '' ? '127.0.0.1' : listen.host;
  const base = options.url ?? `${config.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${listen.port}`;
  const url = new URL('/v1/operator/purge', base);
  const body = JSON.stringify({ hospital: options.hospital, ...(options.feed === undefined ? {} : { feed: options.feed }), reason: options.reason ?? 'contract end', requestedBy: userInfo().username });

  let answer: { status: number; text: string };
  try {
    answer = await post(url, body, token, options.ca);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') {
      process.stderr.write(
        `the relay is not running at ${url.origin} (connection refused): a purge is done by the running relay, which holds ${config.dataDir} open; ` +
          `start it (wardline relay start -c ${options.config}) and run this again, or pass --url. Nothing was purged.\n`,
      );
    } else process.stderr.write(`cannot reach the relay at ${url.origin}: ${(error as Error).message}; nothing was purged\n`);
    return 2;
  }
  if (answer.status !== 200) {
    let message = answer.text;
    try {
      const parsed = JSON.parse(answer.text) as { error: { code: string; message: string } };
      message = `${parsed.error.code}: ${parsed.error.message}`;
    } catch {
      // not our JSON error: print it as it came
    }
    if (answer.status === 404 && !message.startsWith('WL_PURGE')) message += ' (this relay has no purge endpoint: upgrade it to a Wardline version with purge)';
    process.stderr.write(`the relay refused the purge: HTTP ${answer.status}: ${message}\n`);
    return 2;
  }
  const result = JSON.parse(answer.text) as { receipt: string; signature: string; alreadyPurged: boolean };
  const file = options.receiptOut ?? `purge-receipt-${options.hospital}${options.feed === undefined ? '' : `-${options.feed}`}.json`;
  writeFileSync(file, result.receipt);
  writeFileSync(`${file}.minisig`, result.signature);
  const receipt = JSON.parse(result.receipt) as { feeds: { feed: string; eventsDeleted: number; bytesDeleted: number; chunkBytes: number }[]; purgedAt: string };
  write(result.alreadyPurged ? `already purged at ${receipt.purgedAt}; the receipt kept then:\n` : `purged at ${receipt.purgedAt}:\n`);
  for (const f of receipt.feeds) write(`  feed ${f.feed}: ${f.eventsDeleted} events (${f.bytesDeleted} bytes), ${f.chunkBytes} bytes of imaging chunks\n`);
  write(`receipt written to ${file} and its signature to ${file}.minisig; check it with:\n  minisign -Vm ${file} -p ${join(config.dataDir, `${RELAY_SIGNING_KEY_NAME}.pub`)}\n`);
  return 0;
}

function post(url: URL, body: string, token: string, caFile: string | undefined): Promise<{ status: number; text: string }> {
  const ca = caFile ? readFileSync(caFile) : undefined;
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(ca ? { ca } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
