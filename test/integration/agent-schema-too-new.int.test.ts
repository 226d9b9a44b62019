// An agent must not open an agent.db written by a newer agent (a downgrade, or a
// backup restored onto an older install): its schema has changes this build does
// not know, and writing to it could corrupt the hospital's journal. The real
// binary refuses to start, listens on nothing, and tells the operator the file,
// both schema versions and what to do.
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_SCHEMA_VERSION } from '../../agent/store/migrations.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { WardlineProcess, waitForHttp } from '../support/wardline-process.js';

describe('an agent whose agent.db has a newer schema', () => {
  const dir = makeTempDir('wardline-schema-too-new-');
  const running: WardlineProcess[] = [];
  afterAll(async () => {
    for (const agent of running) if (agent.child.exitCode === null && agent.child.signalCode === null) await agent.kill('SIGKILL');
    dir.remove();
  });

  it('exits non-zero without listening, naming the file, both versions and the remedy', async () => {
    const httpPort = await freePort();
    const config = join(dir.path, 'agent.yaml');
    const dbFile = join(dir.path, 'agent-data', 'agent.db');
    writeFileSync(
      config,
      `hospital: { id: schema-too-new }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${httpPort}" }
relays: [{ name: cloud, address: "127.0.0.1:${await freePort()}", secret: "schema-too-new-secret-01", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
`,
    );

    // A real agent creates and migrates its database, then stops cleanly.
    const first = new WardlineProcess(['agent', 'start', '--config', config]);
    running.push(first);
    await waitForHttp(`http://127.0.0.1:${httpPort}/healthz`, first);
    expect(await first.kill('SIGTERM')).toMatchObject({ code: 0 });

    // As a newer agent would leave it.
    const db = new Database(dbFile);
    expect(db.pragma('user_version', { simple: true })).toBe(AGENT_SCHEMA_VERSION);
    const newer = AGENT_SCHEMA_VERSION + 1;
    db.pragma(`user_version = ${newer}`);
    db.close();

    const second = new WardlineProcess(['agent', 'start', '--config', config]);
    running.push(second);
    const exited = await Promise.race([second.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
    expect(exited).not.toBe('still running');
    expect(exited).toMatchObject({ code: 1 });
    const output = second.recentOutput;
    expect(output).toContain(`${dbFile} has schema version ${newer}, but this Wardline agent knows only up to version ${AGENT_SCHEMA_VERSION}`);
    expect(output).toContain(`Install the newer Wardline again, or restore the backup of ${dbFile} taken before the upgrade`);
    // The CLI prints a coded error as `wardline: [CODE] message` (no stack).
    expect(output).toContain('wardline: [WL_A001] ');
    // Nothing of it is left listening.
    const reached = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then(
      () => true,
      () => false,
    );
    expect(reached).toBe(false);

    // And the database is as it was: not migrated, not rewritten.
    const after = new Database(dbFile, { readonly: true });
    try {
      expect(after.pragma('user_version', { simple: true })).toBe(newer);
    } finally {
      after.close();
    }
  });
});
