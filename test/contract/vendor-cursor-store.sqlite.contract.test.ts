// The VendorCursorStore contract against relay.db (migrations 10 and 12), in a temp dir.
import { join } from 'node:path';
import { SqliteFeedStore, SqliteVendorCursorStore } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { describeVendorCursorStoreContract } from './vendor-cursor-store.contract.js';

describeVendorCursorStoreContract('SqliteVendorCursorStore', async () => {
  const dir = makeTempDir('wardline-vendor-cursors-');
  const file = join(dir.path, 'relay.db');
  // The feed store creates relay.db as the relay does (private file, pragmas that only take on a new file).
  const feeds = SqliteFeedStore.open({ file });
  let current = SqliteVendorCursorStore.open({ file });
  return {
    store: current,
    reopen: async () => {
      current.close();
      return (current = SqliteVendorCursorStore.open({ file }));
    },
    cleanup: async () => {
      current.close();
      await feeds.close();
      dir.remove();
    },
  };
});
