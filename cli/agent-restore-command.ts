// `wardline agent restore -c agent.yaml --from DIR [--force] [--pubkey FILE]` and
// `--from-relay`: rebuilds a lost agent's data directory from the relay's export
// of its backup feed (agent/exit/restore.ts). Refusals (a data dir in use, a
// tampered export, wrong keys) are thrown with their code, which `run` prints
// and exits 1 on; nothing is left in the data directory then.
import { InvalidArgumentError } from 'commander';
import { loadAgentConfig, relayExportFetcher, restoreAgent, restoreFromRelay, type ExportFetcher, type RestoreSummary } from '../agent/index.js';
import { readPubkeyOption } from './pubkey-option.js';

export interface AgentRestoreCommandOptions {
  config: string;
  from?: string;
  fromRelay?: boolean;
  force?: boolean;
  /** The relay's public key (minisign format) from a source the hospital trusts. */
  pubkey?: string;
  json?: boolean;
}

export async function agentRestoreCommand(
  options: AgentRestoreCommandOptions,
  write: (text: string) => void = (t) => process.stdout.write(t),
  fetch?: ExportFetcher,
  warn: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  if ((options.from === undefined) === !options.fromRelay) throw new InvalidArgumentError('give --from DIR (an export directory) or --from-relay, one of them');
  const trustedPublicKey = readPubkeyOption(options.pubkey);
  const config = loadAgentConfig(options.config);
  const common = { config, force: options.force ?? false, ...(trustedPublicKey === undefined ? {} : { trustedPublicKey }) };
  const summary = options.from !== undefined ? await restoreAgent({ ...common, from: options.from }) : await restoreFromRelay(common, fetch ?? relayExportFetcher(config, trustedPublicKey));
  for (const warning of summary.warnings) warn(`warning: ${warning}\n`);
  write(options.json ? `${JSON.stringify(summary)}\n` : describe(summary));
  return 0;
}

function describe(s: RestoreSummary): string {
  const rate = s.rebuildMs > 0 ? Math.round((s.events / s.rebuildMs) * 1000) : s.events;
  const lines = [
    `restored ${s.dataDir}: ${s.events} events (seq ${s.firstSeq ?? '-'}..${s.lastSeq ?? '-'}) from backup feed ${s.backupFeed}, ${s.records} records in the local copy, ${s.dedupeKeys} dedupe keys, ${s.positions} source positions`,
    `  export verified in ${(s.verifyMs / 1000).toFixed(1)} s; rebuilt in ${(s.rebuildMs / 1000).toFixed(1)} s (${rate} events/s); PRAGMA integrity_check: ok`,
    `  next journal seq ${s.nextSeq}; feeds resume after: ${s.feedAcks.map((a) => `${a.feed} ${a.ackedSeq}`).join(', ')}`,
    `  egress ledger continues the relay's head ${s.ledgerBase.index} ${s.ledgerBase.hash || '(none)'} with restore record ${s.ledgerHead.index}`,
  ];
  if (s.missingSeqs > 0) lines.push(`  warning: ${s.missingSeqs} seqs below ${s.nextSeq} are not in the backup feed's export (not yet visible at the relay, or never backed up); they are not restored`);
  return `${lines.join('\n')}\n`;
}
