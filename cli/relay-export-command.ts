// `wardline relay export -c relay.yaml --hospital H [--feed F …] --out DIR`: the
// relay operator writes a hospital's signed export from the relay's data dir,
// also while the relay runs (cloud-relay/exit/data-dir-export.ts). Prints what
// was written, how fast, and the command that checks it.
import { loadRelayConfig, exportFromDataDir, RELAY_SIGNING_KEY_NAME } from '../cloud-relay/index.js';

export interface RelayExportOptions {
  config: string;
  hospital: string;
  feed?: string[];
  out: string;
}

export async function relayExportCommand(options: RelayExportOptions, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const config = loadRelayConfig(options.config);
  const summary = await exportFromDataDir({
    dataDir: config.dataDir,
    signingKeyName: RELAY_SIGNING_KEY_NAME,
    relayId: config.relayId,
    hospital: options.hospital,
    knownHospitals: config.hospitals.map((h) => h.id),
    ...(options.feed && options.feed.length > 0 ? { feeds: options.feed } : {}),
    outDir: options.out,
  });
  const seconds = summary.elapsedMs / 1000;
  const mb = summary.bytes / 1e6;
  write(`exported hospital ${options.hospital} to ${summary.outDir}\n`);
  for (const feed of summary.manifest.extension.wardline.feeds) write(`  feed ${feed.feed}: ${feed.events} events through seq ${feed.visibleSeq}, Merkle root ${feed.merkleRoot}\n`);
  write(`  ${summary.files} files, ${summary.events} events, ${summary.bytes} bytes in ${seconds.toFixed(1)} s (${(mb / Math.max(seconds, 1e-3)).toFixed(1)} MB/s)\n`);
  write(`verify it with: wardline export verify ${summary.outDir} --pubkey ${summary.publicKeyFile}\n`);
  write(`  (or: cd ${summary.outDir} && sha256sum -c SHA256SUMS && minisign -V -m manifest.json -p relay-signing.pub)\n`);
  return 0;
}
