// The process registry on the machine's PostgreSQL: processes see each other
// and the stream holders; one that stops beating (a crash) shows as gone and
// its streams leave the page; a clean stop removes its row at once; a hop
// shows the newer holder.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processIdentity } from '../../cloud-relay/store/index.js';
import { migratePostgres, PG_MIGRATIONS, PgProcessRegistry, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';

describe('PostgreSQL process registry', () => {
  let db: RelayTestDatabase;
  let database: RelayDatabase;
  beforeAll(async () => {
    db = await createRelayTestDatabase('registry');
    database = await RelayDatabase.connect({ url: db.url, poolMax: 4, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
    await migratePostgres(database, PG_MIGRATIONS);
  });
  afterAll(async () => {
    await database?.close();
    await db?.drop();
  });

  const registry = (heartbeatMs: number, processTimeoutMs: number) =>
    new PgProcessRegistry({ database, identity: processIdentity({ relayId: 'r', version: '1.0.0', grpcListen: '127.0.0.1:0', httpListen: '127.0.0.1:0', startedAtMs: Date.now() }), heartbeatMs, processTimeoutMs });

  it('lists the live processes and who holds each stream; a crashed one goes, a hop shows the newer holder, a clean stop leaves no row', async () => {
    const a = registry(50, 300);
    // Beats once at register and then not for a minute: as if it had been killed.
    const crashed = registry(60_000, 300);
    let heldByA: string[] = [];
    await a.register(() => heldByA, { grpc: '127.0.0.1:1', http: '127.0.0.1:2' });
    await crashed.register(() => ['h9']);
    expect((await a.processes()).map((p) => [p.processId, p.alive]).sort()).toEqual([[a.processId, true], [crashed.processId, true]].sort());
    expect(await a.streamHolders()).toEqual([expect.objectContaining({ hospital: 'h9', processId: crashed.processId })]);

    await new Promise((r) => setTimeout(r, 450));
    const processes = await a.processes();
    expect(processes.find((p) => p.processId === crashed.processId)!.alive).toBe(false);
    expect(processes.find((p) => p.processId === a.processId)).toMatchObject({ alive: true, grpcListen: '127.0.0.1:1' });
    // A gone process holds nothing.
    expect(await a.streamHolders()).toEqual([]);

    // h9's agent hops to A.
    heldByA = ['h9'];
    await a.heartbeat();
    expect(await a.streamHolders()).toEqual([expect.objectContaining({ hospital: 'h9', processId: a.processId })]);

    await a.close();
    expect((await crashed.processes()).map((p) => p.processId)).toEqual([crashed.processId]);
    await crashed.close();
    expect((await database.query('SELECT count(*)::int AS n FROM relay_streams')).rows[0]).toEqual({ n: 0 });
  });
});
