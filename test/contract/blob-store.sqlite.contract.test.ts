// The BlobStore contract against SqliteBlobStore: the relay's SQLite file and chunk files in a temp dir.
import { join } from 'node:path';
import { SqliteBlobStore, relayBlobDir } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { describeBlobStoreContract } from './blob-store.contract.js';

describeBlobStoreContract('SqliteBlobStore', async (hooks) => {
  const dir = makeTempDir('wardline-blob-store-contract-');
  const dataDir = join(dir.path, 'relay-data');
  const open = () => SqliteBlobStore.open({ file: join(dataDir, 'relay.db'), dir: relayBlobDir(dataDir), ...hooks });
  let current = open();
  return {
    store: current,
    reopen: async () => (current = open()),
    cleanup: async () => {
      await current.close();
      dir.remove();
    },
  };
});
