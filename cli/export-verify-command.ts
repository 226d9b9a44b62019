// `wardline export verify DIR [--pubkey FILE]`: checks a relay's signed export
// offline (agent/exit/export-verifier.ts says what is recomputed). Exits 0 when
// it verifies; a failure is thrown with its code (WL_A032 tampered, WL_A033
// signature) and the file it names, which `run` prints and exits 1 on.
import { verifyExport } from '../agent/index.js';
import { readPubkeyOption } from './pubkey-option.js';

export interface ExportVerifyCommandOptions {
  /** The relay's public key (minisign format) from a source the hospital trusts. */
  pubkey?: string;
  json?: boolean;
}

export async function exportVerifyCommand(dir: string, options: ExportVerifyCommandOptions, write: (text: string) => void = (t) => process.stdout.write(t), warn: (text: string) => void = (t) => process.stderr.write(t)): Promise<number> {
  const trustedPublicKey = readPubkeyOption(options.pubkey);
  const verified = await verifyExport(dir, { ...(trustedPublicKey === undefined ? {} : { trustedPublicKey, trustedPublicKeySource: options.pubkey }) });
  for (const warning of verified.warnings) warn(`warning: ${warning}\n`);
  if (options.json) {
    write(`${JSON.stringify({ ok: true, dir, keySource: verified.keySource, signingKeyId: verified.signingKeyId, files: verified.files, events: verified.events, bytes: verified.bytes, feeds: verified.feeds, elapsedMs: Math.round(verified.elapsedMs) })}\n`);
    return 0;
  }
  const w = verified.manifest.extension.wardline;
  write(`export of hospital ${w.hospital} from relay ${w.relayId} at ${verified.manifest.transactionTime}: verified\n`);
  write(`  signature: key ${verified.signingKeyId} (${verified.keySource === 'trusted' ? `the key in ${options.pubkey}` : 'the bundled relay-signing.pub: integrity only'})\n`);
  for (const feed of verified.feeds) write(`  feed ${feed.feed}: ${feed.events} events through seq ${feed.visibleSeq}, Merkle root ${feed.merkleRoot} (tree size ${feed.treeSize})\n`);
  write(`  ${verified.files} files, ${verified.events} events, ${verified.bytes} bytes checked in ${(verified.elapsedMs / 1000).toFixed(1)} s\n`);
  return 0;
}
