// `wardline agent export -c agent.yaml --out DIR [--feed F …] [--relay NAME] [--pubkey FILE]`:
// the hospital fetches its own signed export from the relay over the Export RPC,
// with the credentials its replication link uses, and verifies it before it is
// given DIR's name (agent/exit/export-fetcher.ts).
import { exportRelaySettings, fetchExport, loadAgentConfig } from '../agent/index.js';
import { readPubkeyOption } from './pubkey-option.js';

export interface AgentExportOptions {
  config: string;
  out: string;
  feed?: string[];
  relay?: string;
  pubkey?: string;
}

export async function agentExportCommand(options: AgentExportOptions, write: (text: string) => void = (t) => process.stdout.write(t), warn: (text: string) => void = (t) => process.stderr.write(t)): Promise<number> {
  const config = loadAgentConfig(options.config);
  const trustedPublicKey = readPubkeyOption(options.pubkey);
  const fetched = await fetchExport({
    ...exportRelaySettings(config, options.relay),
    ...(options.feed && options.feed.length > 0 ? { feeds: options.feed } : {}),
    outDir: options.out,
    ...(trustedPublicKey === undefined ? {} : { trustedPublicKey, trustedPublicKeySource: options.pubkey }),
  });
  const v = fetched.verification;
  for (const warning of v.warnings) warn(`warning: ${warning}\n`);
  const seconds = fetched.elapsedMs / 1000;
  write(`fetched and verified the export of hospital ${v.manifest.extension.wardline.hospital} from relay ${v.manifest.extension.wardline.relayId} into ${fetched.outDir}\n`);
  for (const feed of v.feeds) write(`  feed ${feed.feed}: ${feed.events} events through seq ${feed.visibleSeq}, Merkle root ${feed.merkleRoot}\n`);
  write(`  ${v.files} files, ${v.events} events, ${fetched.bytes} bytes in ${seconds.toFixed(1)} s (${(fetched.bytes / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)} MB/s)\n`);
  write(`check it again any time with: wardline export verify ${fetched.outDir}${options.pubkey ? ` --pubkey ${options.pubkey}` : ' --pubkey <the relay key from its operator>'}\n`);
  return 0;
}
