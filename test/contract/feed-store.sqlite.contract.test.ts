// The FeedStore contract against SqliteFeedStore on real SQLite files in a temp dir.
import { join } from 'node:path';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { describeFeedStoreContract } from './feed-store.contract.js';

describeFeedStoreContract('SqliteFeedStore', async (hooks) => {
  const dir = makeTempDir('wardline-feed-store-contract-');
  const file = join(dir.path, 'relay-data', 'relay.db');
  const open = () => SqliteFeedStore.open({ file, ...hooks });
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
