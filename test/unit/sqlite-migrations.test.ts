// The migration runner agent and relay share (runtime/sqlite-migrations.ts), on
// real SQLite files, and the two programs' migration lists it runs.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_MIGRATIONS, AGENT_SCHEMA_VERSION, migrateAgentDatabase } from '../../agent/store/migrations.js';
import { SchemaTooNewError as AgentSchemaTooNewError } from '../../agent/store/index.js';
import { AgentErrorCode } from '../../agent/errors.js';
import { SchemaTooNewError as RelaySchemaTooNewError } from '../../cloud-relay/errors.js';
import { MIGRATIONS as RELAY_MIGRATIONS, SCHEMA_VERSION as RELAY_SCHEMA_VERSION, migrate as migrateRelayDatabase } from '../../cloud-relay/store/migrations.js';
import { migrateSqlite, schemaTooNewMessage, type SqliteMigration } from '../../runtime/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  { version: 1, description: 'a', sql: 'CREATE TABLE a (x INTEGER)' },
  { version: 2, description: 'b', sql: 'CREATE TABLE b (x INTEGER)' },
  { version: 3, description: 'a.y', sql: 'ALTER TABLE a ADD COLUMN y TEXT' },
];

class TooNew extends Error {}

describe('migrateSqlite (real SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  const opened: Database.Database[] = [];
  const open = () => {
    const db = new Database(file);
    opened.push(db);
    return db;
  };
  const run = (db: Database.Database, migrations = MIGRATIONS) =>
    migrateSqlite(db, { file, migrations, tooNew: (details) => new TooNew(schemaTooNewMessage('test', details)) });
  const version = (db: Database.Database) => db.pragma('user_version', { simple: true }) as number;
  const tables = (db: Database.Database) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);

  beforeEach(() => {
    dir = makeTempDir('wardline-migrations-');
    file = join(dir.path, 'test.db');
  });
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
    dir.remove();
  });

  it('takes a fresh database to the latest version', () => {
    const db = open();
    expect(run(db)).toEqual({ from: 0, to: 3 });
    expect(version(db)).toBe(3);
    expect(tables(db)).toEqual(['a', 'b']);
    expect(db.prepare('SELECT y FROM a').all()).toEqual([]);
  });

  it('does nothing on reopen', () => {
    run(open());
    const db = open();
    db.prepare('INSERT INTO a (x, y) VALUES (1, ?)').run('kept');
    expect(run(db)).toEqual({ from: 3, to: 3 });
    expect(db.prepare('SELECT x, y FROM a').all()).toEqual([{ x: 1, y: 'kept' }]);
  });

  it('continues a database left at an older version', () => {
    const db = open();
    expect(run(db, MIGRATIONS.slice(0, 1))).toEqual({ from: 0, to: 1 });
    expect(tables(db)).toEqual(['a']);
    expect(run(db)).toEqual({ from: 1, to: 3 });
    expect(tables(db)).toEqual(['a', 'b']);
  });

  it('leaves a failed migration unapplied and the version before it, so the next run retries it', () => {
    const db = open();
    const broken = [...MIGRATIONS.slice(0, 2), { version: 3, description: 'broken', sql: 'CREATE TABLE c (x); ALTER TABLE nowhere ADD COLUMN y' }];
    expect(() => run(db, broken)).toThrow(/nowhere/);
    expect(version(db)).toBe(2);
    expect(tables(db)).toEqual(['a', 'b']);
    expect(run(db)).toEqual({ from: 2, to: 3 });
  });

  it('refuses a database newer than its migrations, touching nothing, with the file, both versions and the remedy', async () => {
    const db = open();
    run(db);
    db.pragma('user_version = 7');
    const refused = await Promise.resolve()
      .then(() => run(db))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TooNew);
    const message = (refused as Error).message;
    expect(message).toContain(file);
    expect(message).toMatch(/schema version 7\b/);
    expect(message).toMatch(/up to version 3\b/);
    expect(message).toMatch(/Install the newer Wardline again, or restore the backup/);
    expect(version(db)).toBe(7);
  });

  it('refuses a list whose versions are not 1, 2, 3, … in order', () => {
    expect(() => run(open(), [MIGRATIONS[0]!, MIGRATIONS[2]!])).toThrow(/index 1 is numbered 3; expected 2/);
  });

  it("runs the agent's and the relay's lists, numbered 1.. in order, and each refuses a newer database with its own coded error", () => {
    for (const [migrations, latest] of [
      [AGENT_MIGRATIONS, AGENT_SCHEMA_VERSION],
      [RELAY_MIGRATIONS, RELAY_SCHEMA_VERSION],
    ] as const) {
      expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
      expect(latest).toBe(migrations.length);
    }
    const agentDb = open();
    expect(migrateAgentDatabase(agentDb, file)).toEqual({ from: 0, to: AGENT_SCHEMA_VERSION });
    agentDb.pragma(`user_version = ${AGENT_SCHEMA_VERSION + 1}`);
    expect(() => migrateAgentDatabase(agentDb, file)).toThrow(AgentSchemaTooNewError);
    try {
      migrateAgentDatabase(agentDb, file);
    } catch (error) {
      expect(error).toMatchObject({ name: 'SchemaTooNewError', code: AgentErrorCode.SCHEMA_TOO_NEW, file, found: AGENT_SCHEMA_VERSION + 1, supported: AGENT_SCHEMA_VERSION });
    }

    file = join(dir.path, 'relay.db');
    const relayDb = open();
    expect(migrateRelayDatabase(relayDb, file)).toEqual({ from: 0, to: RELAY_SCHEMA_VERSION });
    relayDb.pragma(`user_version = ${RELAY_SCHEMA_VERSION + 1}`);
    expect(() => migrateRelayDatabase(relayDb, file)).toThrow(RelaySchemaTooNewError);
    expect(() => migrateRelayDatabase(relayDb, file)).toThrow(/Install the newer Wardline again/);
  });
});
