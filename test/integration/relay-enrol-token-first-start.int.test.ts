// `wardline relay enrol-token` is the first thing an operator runs on a new relay,
// often before the relay has ever started: it must create dataDir and relay.db as
// the relay itself would, so the relay then starts on that file unchanged.
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEnrolmentTokens } from '../../cloud-relay/index.js';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH } from '../support/wardline-process.js';

const run = promisify(execFile);

describe('relay enrol-token before the relay first started', () => {
  const dir = makeTempDir('wardline-enrol-first-');
  afterAll(() => dir.remove());

  it('creates dataDir (0700) and relay.db (0600) with the relay schema, page size and auto-vacuum, and the token redeems', async () => {
    const config = join(dir.path, 'relay.yaml');
    writeFileSync(config, `dataDir: ./never-started/data\nallowPlaintext: true\nhospitals:\n  - { id: h1, secret: h1-secret-0123456789abcdef }\n`);
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, 'relay', 'enrol-token', '-c', config, '--hospital', 'h1', '--json']);
    expect(stderr).not.toMatch(/TypeError|at .*\.js/);
    const issued = JSON.parse(stdout) as { token: string; hospital: string };
    expect(issued.hospital).toBe('h1');

    const dataDir = join(dir.path, 'never-started/data');
    const file = join(dataDir, 'relay.db');
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const db = new Database(file, { readonly: true });
    try {
      // What only a new file takes: a relay created by the CLI must not lose them.
      expect(db.pragma('page_size', { simple: true })).toBe(16384);
      expect(db.pragma('auto_vacuum', { simple: true })).toBe(2); // INCREMENTAL
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(['feed_events', 'feed_positions', 'enrolment_tokens']));
    } finally {
      db.close();
    }

    // The relay's own store opens it as it is, and the token is good once.
    await SqliteFeedStore.open({ file }).close();
    const tokens = SqliteEnrolmentTokens.open(file);
    try {
      expect(await tokens.redeem(issued.token)).toEqual({ ok: true, hospital: 'h1' });
    } finally {
      await tokens.close();
    }
  });

  it('a dataDir that cannot be created is a one-line config error naming dataDir and the file (exit 78)', async () => {
    const blocker = join(dir.path, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const config = join(dir.path, 'relay-bad.yaml');
    writeFileSync(config, `dataDir: ./a-file/data\nallowPlaintext: true\nhospitals:\n  - { id: h1, secret: h1-secret-0123456789abcdef }\n`);
    const failed = await run(process.execPath, [CLI_PATH, 'relay', 'enrol-token', '-c', config, '--hospital', 'h1']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(78);
    expect(failed?.stderr).toMatch(/dataDir: cannot open the relay database .*a-file\/data\/relay\.db: .*relay-bad\.yaml/);
    expect(failed?.stderr).not.toMatch(/\n\s+at /);
  });
});
