// `wardline relay enrol-token` with `store: { kind: postgres }`: the token goes
// into the PostgreSQL database every relay process shares (the schema created if
// the relay never started), so an installer can redeem it at any of them; and
// nothing is written to dataDir's relay.db.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEnrolmentTokens } from '../../cloud-relay/index.js';
import { PG_SCHEMA_VERSION, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { makeTempDir } from '../support/temp-dir.js';
import { CLI_PATH } from '../support/wardline-process.js';

const run = promisify(execFile);

describe('relay enrol-token on a PostgreSQL store', () => {
  const dir = makeTempDir('wardline-enrol-pg-');
  let db: RelayTestDatabase;
  beforeAll(async () => {
    db = await createRelayTestDatabase('enrol_cli');
  });
  afterAll(async () => {
    await db.drop();
    dir.remove();
  });

  it('issues into the database (urlFile), migrating a fresh one; the token redeems once at a relay process', async () => {
    writeFileSync(join(dir.path, 'pg.url'), `${db.url}\n`, { mode: 0o600 });
    const config = join(dir.path, 'relay.yaml');
    writeFileSync(
      config,
      `dataDir: ./data\nallowPlaintext: true\nstore: { kind: postgres, urlFile: ./pg.url }\nhospitals:\n  - { id: h1, secret: h1-secret-0123456789abcdef }\n`,
    );
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, 'relay', 'enrol-token', '-c', config, '--hospital', 'h1', '--json']);
    expect(stderr).not.toMatch(/TypeError|at .*\.js/);
    const issued = JSON.parse(stdout) as { token: string; hospital: string };
    expect(issued.hospital).toBe('h1');
    expect(existsSync(join(dir.path, 'data', 'relay.db'))).toBe(false);

    const database = await RelayDatabase.connect({ url: db.url, poolMax: 2, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
    try {
      expect((await database.query<{ v: number }>('SELECT max(version) AS v FROM wardline_schema')).rows[0]!.v).toBe(PG_SCHEMA_VERSION);
      const tokens = await PostgresEnrolmentTokens.open({ database });
      expect(await tokens.redeem(issued.token)).toEqual({ ok: true, hospital: 'h1' });
      expect(await tokens.redeem(issued.token)).toEqual({ ok: false, reason: 'used' });
    } finally {
      await database.close();
    }
  });

  it('says which store it could not open, in one line, when the server refuses', async () => {
    const config = join(dir.path, 'down.yaml');
    writeFileSync(config, `dataDir: ./data\nallowPlaintext: true\nstore: { kind: postgres, url: 'postgres://postgres@127.0.0.1:1/nowhere', connectTimeoutMs: 2000 }\nhospitals:\n  - { id: h1, secret: h1-secret-0123456789abcdef }\n`);
    const failed = await run(process.execPath, [CLI_PATH, 'relay', 'enrol-token', '-c', config, '--hospital', 'h1']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toMatch(/store: cannot open the relay's PostgreSQL database/);
    expect(failed?.stderr).not.toMatch(/TypeError|at .*\.js/);
  });
});
