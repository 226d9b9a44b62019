// The relay's PostgreSQL schema runner on the machine's real server: several
// processes starting at once apply each migration once, and a database from a
// newer relay is refused with the schema-too-new error.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SchemaTooNewError } from '../../cloud-relay/errors.js';
import { migratePostgres, PG_MIGRATIONS, PG_SCHEMA_VERSION, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';

describe('relay PostgreSQL migrations', () => {
  let db: RelayTestDatabase;
  const opened: RelayDatabase[] = [];
  const connect = async () => {
    const database = await RelayDatabase.connect({ url: db.url, poolMax: 3, connectTimeoutMs: 5000, applicationName: 'wardline-test' });
    opened.push(database);
    return database;
  };

  beforeEach(async () => {
    db = await createRelayTestDatabase('migrations');
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((d) => d.close()));
    await db.drop();
  });

  it('applies each migration once when four processes start together', async () => {
    const databases = await Promise.all([1, 2, 3, 4].map(connect));
    const results = await Promise.all(databases.map((d) => migratePostgres(d, PG_MIGRATIONS)));
    expect(results.every((r) => r.to === PG_SCHEMA_VERSION)).toBe(true);
    const rows = (await databases[0]!.query<{ version: number }>('SELECT version FROM wardline_schema ORDER BY version')).rows;
    expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
    expect(await migratePostgres(databases[0]!, PG_MIGRATIONS)).toEqual({ from: PG_SCHEMA_VERSION, to: PG_SCHEMA_VERSION });
  });

  it('refuses a database a newer relay wrote, changing nothing', async () => {
    const database = await connect();
    await migratePostgres(database, PG_MIGRATIONS);
    await database.query("INSERT INTO wardline_schema (version, description) VALUES ($1, 'from the future')", [PG_SCHEMA_VERSION + 1]);
    const error = await migratePostgres(database, PG_MIGRATIONS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaTooNewError);
    expect(String((error as Error).message)).toContain(`schema version ${PG_SCHEMA_VERSION + 1}`);
    expect(String((error as Error).message)).toContain(db.name);
  });

  it('says which database is unreachable, without its password', async () => {
    const error = await RelayDatabase.connect({ url: 'postgres://wl:hunter2secret@127.0.0.1:1/nowhere', poolMax: 2, connectTimeoutMs: 2000, applicationName: 'wardline-test' }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('WL_STORE_UNAVAILABLE');
    expect((error as Error).message).toContain('127.0.0.1:1/nowhere');
    expect((error as Error).message).not.toContain('hunter2secret');
  });

  it('brings a version 7 database to version 8: floor 0, body bytes counted, events by time', async () => {
    const database = await connect();
    await migratePostgres(database, PG_MIGRATIONS.slice(0, 7));
    for (let seq = 1; seq <= 4; seq++) {
      await database.query(
        `INSERT INTO feed_events (hospital, feed, seq, stream, key, op, ts_ms, source, content_type, body, headers, received_at_ms)
         VALUES ('h1', 'adt', $1, 'adt', 'P', 'upsert', $2, 'lis', 'hl7v2', $3, '{}', 1000)`,
        [seq, 10_000 + seq, Buffer.alloc(10 * seq, 1)],
      );
    }
    await database.query("INSERT INTO feed_positions (hospital, feed, high_water_seq, event_count, updated_at_ms) VALUES ('h1', 'adt', 4, 4, 1000), ('h1', 'empty', 3, 0, 1000)");
    expect(await migratePostgres(database, PG_MIGRATIONS)).toEqual({ from: 7, to: PG_SCHEMA_VERSION });
    const { rows } = await database.query<{ feed: string; retention_floor_seq: number; body_bytes: number }>('SELECT feed, retention_floor_seq, body_bytes FROM feed_positions ORDER BY feed');
    expect(rows).toEqual([
      { feed: 'adt', retention_floor_seq: 0, body_bytes: 100 },
      { feed: 'empty', retention_floor_seq: 0, body_bytes: 0 },
    ]);
    const index = await database.query("SELECT indexname FROM pg_indexes WHERE tablename = 'feed_events' AND indexname = 'feed_events_by_time'");
    expect(index.rows).toHaveLength(1);
  });
});
