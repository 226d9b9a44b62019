// The SinkCursorStore contract against relay.db (migration 9) in a temp dir.
import { join } from 'node:path';
import { SqliteSinkCursorStore } from '../../cloud-relay/sinks/sqlite-sink-cursor-store.js';
import { makeTempDir } from '../support/temp-dir.js';
import { describeSinkCursorStoreContract } from './sink-cursor-store.contract.js';

describeSinkCursorStoreContract('SqliteSinkCursorStore', async () => {
  const dir = makeTempDir('wardline-sink-cursors-');
  const file = join(dir.path, 'relay-data', 'relay.db');
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const open: SqliteSinkCursorStore[] = [];
  const make = () => {
    const store = SqliteSinkCursorStore.open({ file, now });
    open.push(store);
    return store;
  };
  let current = make();
  return {
    store: current,
    other: async () => make(),
    reopen: async () => {
      await current.close();
      return (current = make());
    },
    advanceClock: (ms) => void (clock += ms),
    cleanup: async () => {
      for (const store of open) await store.close();
      dir.remove();
    },
  };
});
