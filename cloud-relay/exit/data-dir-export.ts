// An export made from a relay's data dir by the operator (`wardline relay export`),
// possibly while the relay runs: the database is in WAL mode, so this process's
// reads never block the relay's writes (and see each page as one committed
// snapshot); it opens the stores as the relay does, which changes nothing in a
// database already at this release's schema.
import { existsSync } from 'node:fs';
import { loadOrCreateSigningKey } from '../../runtime/index.js';
import { relayBlobDir, relayDatabaseFile, SqliteBlobStore, SqliteFeedStore } from '../store/index.js';
import { ExportNoDatabaseError } from './errors.js';
import { writeExport, type ExportSummary, type ExportWriterOptions } from './export-writer.js';

export interface DataDirExportOptions extends Pick<ExportWriterOptions, 'relayId' | 'hospital' | 'knownHospitals' | 'feeds' | 'outDir' | 'request' | 'now'> {
  /** The relay config's dataDir. */
  dataDir: string;
  /** The signing key's file name in dataDir (RELAY_SIGNING_KEY_NAME). */
  signingKeyName: string;
}

/** Opens the relay's stores in dataDir, writes the export (writeExport) and closes them. */
export async function exportFromDataDir(options: DataDirExportOptions): Promise<ExportSummary & { publicKeyFile: string }> {
  const file = relayDatabaseFile(options.dataDir);
  if (!existsSync(file)) throw new ExportNoDatabaseError(file);
  const store = SqliteFeedStore.open({ file });
  try {
    const blobs = SqliteBlobStore.open({ file, dir: relayBlobDir(options.dataDir) });
    try {
      const signing = loadOrCreateSigningKey(options.dataDir, options.signingKeyName);
      const { dataDir: _dataDir, signingKeyName: _name, ...rest } = options;
      return { ...(await writeExport({ ...rest, store, blobs, signingKey: signing.key })), publicKeyFile: signing.publicKeyFile };
    } finally {
      await blobs.close();
    }
  } finally {
    await store.close();
  }
}
