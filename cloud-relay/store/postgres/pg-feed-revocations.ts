// Revoking, reinstating and purging feeds on PostgreSQL (internal to
// PostgresFeedStore), as feed-revocations.ts does in relay.db: the revoke
// marks the feed and drops its position in one transaction — from then on
// nothing of it is stored or served, by any relay process — then deletes its
// events in chunks, then erases.
//
// Failure modes handled:
//  1. A batch racing the revoke in another process: the revoke locks the
//     feed's position row (creating it when the feed was never written) before
//     it reads the mark, and deletes it in the same transaction; a batch
//     decides under the same row lock (pg-feed-batches.ts, failure mode 3).
//  2. The relay stops mid-deletion: the mark is durable; the agent's repeat
//     deletes what is left.
//  3. A reinstate (and new batches) while the chunks are being deleted, in
//     this process or another: a chunk deletes only seqs at or below the
//     revocation's mark, and only while the revocation exists, so events
//     stored after the reinstate are never deleted.
//  4. Deleted bytes left on disk. PostgreSQL keeps a deleted row's bytes in
//     its page until VACUUM prunes it, so erase() runs VACUUM of the tables the
//     deletion touched (outside any transaction), which prunes the dead rows
//     and hands trailing empty pages back to the file system. What it cannot
//     reach, and `Erasure.walTruncated` false says so: the write-ahead log
//     segments (and any WAL archive or base backup the operator keeps) hold
//     the rows until they are recycled or expire; pruned space inside a page
//     is reused, not zeroed; a role that does not own the tables cannot
//     VACUUM them (vacuum 'none', autovacuum prunes later). An operator who must prove erasure from those
//     too expires the backups and WAL archive past the revoke.
import type { Erasure, FeedControlRequest, FeedRevocation, RevokeOutcome } from '../feed-store.js';
import { FEED_DOORBELL_CHANNEL, feedDoorbellPayload } from './feed-doorbell.js';
import { recordLedgerHead } from './pg-ledger-heads.js';
import type { DatabaseClient, RelayDatabase } from './relay-database.js';
import { revocationOf, type RevocationRow } from '../feed-rows.js';

/** Events deleted per statement (each its own transaction). */
export const PG_REVOKE_CHUNK_ROWS = 5_000;

// One chunk of a revoked feed's events, and its count kept with the revocation, in one statement.
const DELETE_CHUNK = `
  WITH doomed AS (
    SELECT e.seq FROM feed_events e JOIN feed_revocations r ON r.hospital = e.hospital AND r.feed = e.feed
     WHERE e.hospital = $1 AND e.feed = $2 AND e.seq <= r.high_water_seq
     ORDER BY e.seq LIMIT $3
  ), gone AS (
    DELETE FROM feed_events e USING doomed d WHERE e.hospital = $1 AND e.feed = $2 AND e.seq = d.seq
    RETURNING octet_length(e.body) AS bytes
  ), total AS (
    SELECT count(*)::bigint AS events, coalesce(sum(bytes), 0)::bigint AS bytes FROM gone
  ), counted AS (
    UPDATE feed_revocations r SET events_deleted = r.events_deleted + t.events, bytes_deleted = r.bytes_deleted + t.bytes
      FROM total t WHERE r.hospital = $1 AND r.feed = $2 AND t.events > 0
    RETURNING 1
  )
  SELECT events, bytes FROM total`;

export class PgFeedRevocations {
  constructor(
    private readonly database: RelayDatabase,
    private readonly now: () => number,
    private readonly chunkRows = PG_REVOKE_CHUNK_ROWS,
  ) {}

  async get(hospital: string, feed: string): Promise<FeedRevocation | undefined> {
    const { rows } = await this.database.query<RevocationRow>('SELECT * FROM feed_revocations WHERE hospital = $1 AND feed = $2', [hospital, feed]);
    return rows[0] && revocationOf(rows[0]);
  }

  async all(): Promise<FeedRevocation[]> {
    const { rows } = await this.database.query<RevocationRow>('SELECT * FROM feed_revocations ORDER BY hospital COLLATE "C", feed COLLATE "C"');
    return rows.map(revocationOf);
  }

  /** Revokes, deletes the events, erases (see FeedStore.revokeFeed). */
  async revoke(request: FeedControlRequest & { reason: string }): Promise<RevokeOutcome> {
    const deleted = await this.markAndDelete(request);
    const erasure = await this.erase(['feed_events']);
    return { ...deleted, erasure };
  }

  /** The revoke without its erasure (a purge deletes more, then erases once). */
  async markAndDelete(request: FeedControlRequest & { reason: string }): Promise<Omit<RevokeOutcome, 'erasure'>> {
    const { hospital, feed, reason } = request;
    const { revocation, alreadyRevoked } = await this.database.transaction((client) => this.mark(client, request, reason));
    let eventsDeleted = 0;
    let bytesDeleted = 0;
    for (;;) {
      const { rows } = await this.database.query<{ events: number; bytes: number }>(DELETE_CHUNK, [hospital, feed, this.chunkRows]);
      const chunk = rows[0] ?? { events: 0, bytes: 0 };
      eventsDeleted += chunk.events;
      bytesDeleted += chunk.bytes;
      if (chunk.events < this.chunkRows) break;
    }
    return { revocation: (await this.get(hospital, feed)) ?? revocation, eventsDeleted, bytesDeleted, alreadyRevoked };
  }

  private async mark(client: DatabaseClient, request: FeedControlRequest, reason: string): Promise<{ revocation: FeedRevocation; alreadyRevoked: boolean }> {
    const { hospital, feed } = request;
    const at = this.now();
    // The position row is the feed's lock (failure mode 1): taken, created if need be, and dropped below.
    // Taken before the ledger head's row, the order storeBatch takes them in, so the two never deadlock.
    const { rows } = await client.query<{ high_water_seq: number }>(
      `INSERT INTO feed_positions AS p (hospital, feed, high_water_seq, event_count, updated_at_ms) VALUES ($1, $2, 0, 0, $3)
       ON CONFLICT (hospital, feed) DO UPDATE SET updated_at_ms = p.updated_at_ms
       RETURNING high_water_seq`,
      [hospital, feed, at],
    );
    const highWater = rows[0]!.high_water_seq;
    await client.query('DELETE FROM feed_positions WHERE hospital = $1 AND feed = $2', [hospital, feed]);
    await recordLedgerHead(client, hospital, feed, request.ledgerHead ?? null, at, false);
    const held = await client.query<RevocationRow>('SELECT * FROM feed_revocations WHERE hospital = $1 AND feed = $2', [hospital, feed]);
    if (held.rows[0]) return { revocation: revocationOf(held.rows[0]), alreadyRevoked: true };
    await client.query('INSERT INTO feed_revocations (hospital, feed, high_water_seq, reason, revoked_at_ms) VALUES ($1, $2, $3, $4, $5)', [hospital, feed, highWater, reason, at]);
    await client.query('SELECT pg_notify($1, $2)', [FEED_DOORBELL_CHANNEL, feedDoorbellPayload({ hospital, feed, highWaterSeq: highWater, visibleSeq: highWater, revoked: true })]);
    return { revocation: { hospital, feed, highWaterSeq: highWater, eventsDeleted: 0, bytesDeleted: 0, reason, revokedAtMs: at }, alreadyRevoked: false };
  }

  /** Lifts a revocation: the feed continues from its mark at revocation. */
  async reinstate(request: FeedControlRequest): Promise<{ wasRevoked: boolean; highWaterSeq: number }> {
    const { hospital, feed } = request;
    return this.database.transaction(async (client) => {
      const at = this.now();
      const dropped = await client.query<{ high_water_seq: number }>('DELETE FROM feed_revocations WHERE hospital = $1 AND feed = $2 RETURNING high_water_seq', [hospital, feed]);
      const revoked = dropped.rows[0];
      if (!revoked) {
        const { rows } = await client.query<{ high_water_seq: number }>('SELECT high_water_seq FROM feed_positions WHERE hospital = $1 AND feed = $2', [hospital, feed]);
        await recordLedgerHead(client, hospital, feed, request.ledgerHead ?? null, at, false);
        return { wasRevoked: false, highWaterSeq: rows[0]?.high_water_seq ?? 0 };
      }
      const highWaterSeq = revoked.high_water_seq;
      await client.query(
        'INSERT INTO feed_positions (hospital, feed, high_water_seq, event_count, updated_at_ms) VALUES ($1, $2, $3, 0, $4) ON CONFLICT (hospital, feed) DO NOTHING',
        [hospital, feed, highWaterSeq, at],
      );
      await recordLedgerHead(client, hospital, feed, request.ledgerHead ?? null, at, false);
      await client.query('SELECT pg_notify($1, $2)', [FEED_DOORBELL_CHANNEL, feedDoorbellPayload({ hospital, feed, highWaterSeq, visibleSeq: highWaterSeq, revoked: false })]);
      return { wasRevoked: true, highWaterSeq };
    });
  }

  /**
   * Failure mode 4: VACUUM of `tables` (pruning the deleted rows and giving
   * trailing empty pages back). Never in a transaction: VACUUM refuses to run in one.
   */
  async erase(tables: readonly string[]): Promise<Erasure> {
    const pages = async (): Promise<number> => {
      const { rows } = await this.database.query<{ pages: number }>(
        `SELECT coalesce(sum(pg_relation_size(t::regclass)), 0)::bigint / current_setting('block_size')::bigint AS pages FROM unnest($1::text[]) AS t`,
        [tables],
      );
      return rows[0]?.pages ?? 0;
    };
    // VACUUM of a table the relay's role does not own only warns and skips it: say so instead of claiming it ran.
    const { rows } = await this.database.query<{ owned: boolean }>(
      `SELECT coalesce(bool_and(pg_has_role(c.relowner, 'USAGE')), false) AS owned FROM pg_class c WHERE c.oid = ANY (SELECT t::regclass FROM unnest($1::text[]) AS t)`,
      [tables],
    );
    if (!rows[0]?.owned) return { walTruncated: false, freePagesReleased: 0, vacuum: 'none' };
    const before = await pages();
    await this.database.query(`VACUUM ${tables.join(', ')}`);
    const after = await pages();
    return { walTruncated: false, freePagesReleased: Math.max(0, before - after), vacuum: 'incremental' };
  }
}
