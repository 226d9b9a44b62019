// Every JournalWriter against the one contract: the SQLite Journal with its group
// commit (requests of one turn share a transaction), the Journal committing every
// request alone, and the recording writer the MLLP tests use in its place.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Journal, openAgentDatabase } from '../../agent/store/index.js';
import { RecordingWriter } from '../support/recording-writer.js';
import { makeTempDir } from '../support/temp-dir.js';
import { describeJournalWriterContract, type DurableEvent, type JournalWriterHarness } from './journal-writer.contract.js';

function sqliteJournal(options: ConstructorParameters<typeof Journal>[1]): () => JournalWriterHarness {
  return () => {
    const dir = makeTempDir('wardline-journal-contract-');
    const file = join(dir.path, 'agent.db');
    const db = openAgentDatabase(file);
    return {
      writer: new Journal(db, options),
      durable: () => {
        const reader = new Database(file, { readonly: true });
        try {
          return (reader.prepare('SELECT seq, stream, key, source, body FROM journal ORDER BY seq').all() as (Omit<DurableEvent, 'body'> & { body: Buffer })[]).map((row) => ({
            ...row,
            body: row.body.toString('utf8'),
          }));
        } finally {
          reader.close();
        }
      },
      close: () => db.close(),
      dispose: () => {
        if (db.open) db.close();
        dir.remove();
      },
    };
  };
}

describeJournalWriterContract('SQLite Journal (group commit)', sqliteJournal({}));
describeJournalWriterContract('SQLite Journal (one request per transaction)', sqliteJournal({ maxGroupSize: 1 }));
describeJournalWriterContract('RecordingWriter (test/support fake)', () => {
  const writer = new RecordingWriter();
  return {
    writer,
    durable: () => writer.committed(),
    close: () => writer.close(),
    dispose: () => undefined,
  };
});
