// The BlobStore port (../blob-store.ts) on PostgreSQL (schema v3): the same
// bookkeeping tables as relay.db's, and the chunk bytes in the database too —
// relay processes on several machines share no disk, so a chunk an agent sent
// to one process must be readable by a vendor at another. A chunk being
// received is kept as its parts (blob_chunk_parts, one row per part); the part
// that completes it is hashed in the database, and the chunk written to
// blob_chunks only if the SHA-256 matched, in the same transaction.
//
// Failure modes handled:
//  1. A cut mid-chunk (agent, relay process or database connection): every
//     part committed is kept; what offer() reports as partialBytes is the sum
//     of their sizes, so the transfer resumes there — at any process.
//  2. Two writers of one chunk (a resent duplicate, a second stream, another
//     process): parts of one chunk are serialised by a transaction-scoped
//     advisory lock on (hospital, chunk), and a part is taken only at exactly
//     the held offset; the parts' primary key stands behind that.
//  3. A corrupt chunk: the whole chunk's SHA-256 is computed by the server
//     (sha256(), PostgreSQL ≥ 11) over the parts in order; a mismatch deletes
//     the parts and says so, and the chunk starts again from 0.
//  4. Loss of the relay process after a chunk is acked as stored: the ack is
//     sent only after COMMIT, which the server made durable.
//  5. Chunks whose hashes match but which do not add up to the instance: the
//     whole SHA-256 is verified by streaming the chunks before the instance is
//     marked complete.
//  6. A large instance read by a vendor: streamed in slices (substring of the
//     chunk's bytes; EXTERNAL storage makes a slice read only its own pages),
//     never a whole chunk, let alone the instance, in one piece in memory.
//  7. A revoke racing an offer or a chunk's completion in another process:
//     deleteFeed takes the hospital's blob lock exclusively, offer and the
//     completing part take it shared, so an instance just offered is never
//     judged unneeded and deleted under the offer.
//  8. Revoke: the rows (and with them the bytes) are deleted; they stay in the
//     table files until VACUUM reuses the space and in the WAL and base backups
//     until those are recycled (the README says so).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobManifest } from '../../../protocol/index.js';
import { FeedStoreClosedError } from '../../errors.js';
import { manifestProblem, partProblem } from '../blob-checks.js';
import type { BlobFeedDeletion, BlobFeedUsage, BlobReference, BlobStore, MissingChunk, OfferAnswer, PartAnswer } from '../blob-store.js';
import type { DatabaseClient, RelayDatabase } from './relay-database.js';
import { blobFeedUsage, referenceOf, type ChunkRow, type FeedStatsRow, type RefRow, type RefUsageRow } from '../blob-rows.js';

/** The advisory-lock namespaces (first key) of the blob store: a hospital's blobs, one chunk's parts. */
export const BLOB_HOSPITAL_LOCK = 0x776c_6268; // "wlbh"
export const BLOB_CHUNK_LOCK = 0x776c_6263; // "wlbc"
/** The bytes of one piece an instance is streamed in. */
export const BLOB_READ_SLICE_BYTES = 1024 * 1024;

export interface PostgresBlobStoreOptions {
  /** The relay's pool; migratePostgres has run. Not closed by close(): other stores share it. */
  database: RelayDatabase;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

const REF_COLUMNS = 'r.seq, r.instance_sha256, i.size, r.study_uid, r.series_uid, r.sop_instance_uid, r.sop_class_uid';

export class PostgresBlobStore implements BlobStore {
  private closed = false;
  private readonly database: RelayDatabase;
  private readonly now: () => number;

  private constructor(options: PostgresBlobStoreOptions) {
    this.database = options.database;
    this.now = options.now ?? Date.now;
  }

  /** The store on `options.database` (schema v3 applied by migratePostgres). */
  static async open(options: PostgresBlobStoreOptions): Promise<PostgresBlobStore> {
    return new PostgresBlobStore(options);
  }

  get open(): boolean {
    return !this.closed;
  }

  async offer(hospital: string, feed: string, manifest: BlobManifest): Promise<OfferAnswer> {
    this.assertOpen();
    const problem = manifestProblem(manifest);
    if (problem) return { error: problem };
    const instance = manifest.sha256;
    const answer = await this.database.transaction(async (client): Promise<OfferAnswer | { complete: false; whole: true; dedupedBytes: number }> => {
      await client.query('SELECT pg_advisory_xact_lock_shared($1, hashtext($2))', [BLOB_HOSPITAL_LOCK, hospital]);
      // A concurrent offer of the same instance waits on the key, then finds it recorded.
      const inserted = await client.query(
        'INSERT INTO blob_instances (hospital, sha256, size, chunk_count, complete, created_at_ms) VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING',
        [hospital, instance, manifest.size, manifest.chunks.length, this.now()],
      );
      if (inserted.rowCount === 1) {
        await client.query(
          `INSERT INTO blob_instance_chunks (hospital, instance_sha256, idx, chunk_sha256, size)
           SELECT $1, $2, idx - 1, sha, size FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS c(sha, size, idx)`,
          [hospital, instance, manifest.chunks.map((c) => c.sha256), manifest.chunks.map((c) => c.size)],
        );
      } else {
        const existing = (await client.query<{ size: number; chunk_count: number }>('SELECT size, chunk_count FROM blob_instances WHERE hospital = $1 AND sha256 = $2', [hospital, instance])).rows[0]!;
        const chunks = await this.instanceChunks(client, hospital, instance);
        const same = existing.size === manifest.size && chunks.length === manifest.chunks.length && chunks.every((c, i) => c.chunk_sha256 === manifest.chunks[i]!.sha256 && c.size === manifest.chunks[i]!.size);
        if (!same) return { error: `instance ${instance} was offered before with another size or chunk list (${existing.size} bytes in ${existing.chunk_count} chunks); a SHA-256 names one content` };
      }
      const names = manifest.chunks.map((c) => c.sha256);
      const stored = new Set(
        (await client.query<{ sha256: string }>('SELECT sha256 FROM blob_chunks WHERE hospital = $1 AND sha256 = ANY($2::text[])', [hospital, names])).rows.map((r) => r.sha256),
      );
      const partial = new Map(
        (
          await client.query<{ sha256: string; held: number }>(
            'SELECT sha256, SUM(octet_length(data))::bigint AS held FROM blob_chunk_parts WHERE hospital = $1 AND sha256 = ANY($2::text[]) GROUP BY sha256',
            [hospital, names],
          )
        ).rows.map((r) => [r.sha256, r.held]),
      );
      const missing: MissingChunk[] = [];
      let heldBytes = 0;
      for (const [index, chunk] of manifest.chunks.entries()) {
        if (stored.has(chunk.sha256)) heldBytes += chunk.size;
        else missing.push({ index, partialBytes: partial.get(chunk.sha256) ?? 0 });
      }
      // Counted once per (feed, instance): a re-offer after a cut is the same transfer, not a saving.
      let dedupedBytes = 0;
      const offered = await client.query('INSERT INTO blob_offers (hospital, feed, instance_sha256, offered_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
        hospital,
        feed,
        instance,
        this.now(),
      ]);
      if (offered.rowCount === 1) {
        await client.query(
          `INSERT INTO blob_feed_stats (hospital, feed, offered_bytes, deduped_bytes) VALUES ($1, $2, $3, $4)
           ON CONFLICT (hospital, feed) DO UPDATE SET
             offered_bytes = blob_feed_stats.offered_bytes + excluded.offered_bytes,
             deduped_bytes = blob_feed_stats.deduped_bytes + excluded.deduped_bytes`,
          [hospital, feed, manifest.size, heldBytes],
        );
        dedupedBytes = heldBytes;
      }
      if (missing.length > 0) return { complete: false, missing, dedupedBytes };
      return { complete: false, whole: true, dedupedBytes };
    });
    if (!('whole' in answer)) return answer;
    if (await this.completeIfWhole(hospital, instance)) return { complete: true, missing: [], dedupedBytes: answer.dedupedBytes };
    return { error: `instance ${instance}: every chunk is held, but their bytes in order do not hash to the instance's SHA-256; the manifest is wrong` };
  }

  async writePart(hospital: string, chunkSha256: string, chunkSize: number, offset: number, data: Uint8Array): Promise<PartAnswer> {
    this.assertOpen();
    const refused = partProblem(chunkSha256, chunkSize, offset, data);
    if (refused) return { received: 0, stored: false, error: refused };
    const answer = await this.database.transaction(async (client): Promise<PartAnswer> => {
      const named = await client.query('SELECT 1 FROM blob_instance_chunks WHERE hospital = $1 AND chunk_sha256 = $2 AND size = $3 LIMIT 1', [hospital, chunkSha256, chunkSize]);
      if (named.rowCount === 0) {
        const held = (await client.query<{ size: number }>('SELECT size FROM blob_chunks WHERE hospital = $1 AND sha256 = $2', [hospital, chunkSha256])).rows[0];
        if (held?.size === chunkSize) return { received: chunkSize, stored: true };
        return { received: 0, stored: false, error: `chunk ${chunkSha256} of ${chunkSize} bytes is not in any instance this hospital offered; offer the instance first` };
      }
      // Failure mode 2: one writer of this chunk at a time, in every process.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [BLOB_CHUNK_LOCK, `${hospital}/${chunkSha256}`]);
      if ((await client.query('SELECT 1 FROM blob_chunks WHERE hospital = $1 AND sha256 = $2', [hospital, chunkSha256])).rowCount! > 0) return { received: chunkSize, stored: true };
      const held = await this.partialBytes(client, hospital, chunkSha256);
      if (offset !== held) {
        return { received: held, stored: false, error: `part of chunk ${chunkSha256} at offset ${offset}, but the relay holds ${held} bytes of it; send from offset ${held}` };
      }
      await client.query('INSERT INTO blob_chunk_parts (hospital, sha256, "offset", data, stored_at_ms) VALUES ($1, $2, $3, $4, $5)', [
        hospital,
        chunkSha256,
        offset,
        Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        this.now(),
      ]);
      const received = offset + data.length;
      if (received < chunkSize) return { received, stored: false };
      // Failure mode 3: hashed where the bytes are, stored only if it matched — one
      // statement, the parts joined once. Failure mode 7: shared hospital lock first.
      await client.query('SELECT pg_advisory_xact_lock_shared($1, hashtext($2))', [BLOB_HOSPITAL_LOCK, hospital]);
      const actual = (
        await client.query<{ actual: string }>(
          `WITH whole AS (
             SELECT data, encode(sha256(data), 'hex') AS actual
               FROM (SELECT string_agg(data, ''::bytea ORDER BY "offset") AS data FROM blob_chunk_parts WHERE hospital = $1 AND sha256 = $2) joined
           ), stored AS (
             INSERT INTO blob_chunks (hospital, sha256, size, stored_at_ms, data)
             SELECT $1, $2, $3, $4, data FROM whole WHERE actual = $2
             ON CONFLICT DO NOTHING
           )
           SELECT actual FROM whole`,
          [hospital, chunkSha256, chunkSize, this.now()],
        )
      ).rows[0]!.actual;
      await client.query('DELETE FROM blob_chunk_parts WHERE hospital = $1 AND sha256 = $2', [hospital, chunkSha256]);
      if (actual !== chunkSha256) {
        return {
          received: 0,
          stored: false,
          corrupt: true,
          error: `chunk ${chunkSha256}: the ${chunkSize} bytes received hash to ${actual}; the relay discarded them, send the chunk again from offset 0`,
        };
      }
      return { received: chunkSize, stored: true };
    });
    if (answer.stored) {
      const incomplete = (
        await this.database.query<{ sha256: string }>(
          `SELECT DISTINCT i.sha256 FROM blob_instance_chunks ic
             JOIN blob_instances i ON i.hospital = ic.hospital AND i.sha256 = ic.instance_sha256
            WHERE ic.hospital = $1 AND ic.chunk_sha256 = $2 AND i.complete = 0`,
          [hospital, chunkSha256],
        )
      ).rows;
      for (const { sha256 } of incomplete) await this.completeIfWhole(hospital, sha256);
    }
    return answer;
  }

  async isComplete(hospital: string, instanceSha256: string): Promise<boolean> {
    this.assertOpen();
    const row = (await this.database.query<{ complete: number }>('SELECT complete FROM blob_instances WHERE hospital = $1 AND sha256 = $2', [hospital, instanceSha256])).rows[0];
    return row?.complete === 1;
  }

  async openInstance(hospital: string, instanceSha256: string): Promise<{ size: number; stream: Readable } | undefined> {
    this.assertOpen();
    const row = (await this.database.query<{ size: number; complete: number }>('SELECT size, complete FROM blob_instances WHERE hospital = $1 AND sha256 = $2', [hospital, instanceSha256]))
      .rows[0];
    if (row?.complete !== 1) return undefined;
    const chunks = await this.instanceChunks(undefined, hospital, instanceSha256);
    return { size: row.size, stream: Readable.from(this.readChunks(hospital, chunks), { objectMode: false }) };
  }

  async recordReferences(hospital: string, feed: string, references: readonly BlobReference[]): Promise<void> {
    this.assertOpen();
    if (references.length === 0) return;
    await this.database.query(
      `INSERT INTO blob_refs (hospital, feed, seq, instance_sha256, study_uid, series_uid, sop_instance_uid, sop_class_uid)
       SELECT DISTINCT ON (seq) $1, $2, seq, sha, study, series, sop, class
         FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS r(seq, sha, study, series, sop, class, n)
        ORDER BY seq, n DESC
       ON CONFLICT (hospital, feed, seq) DO UPDATE SET
         instance_sha256 = excluded.instance_sha256, study_uid = excluded.study_uid, series_uid = excluded.series_uid,
         sop_instance_uid = excluded.sop_instance_uid, sop_class_uid = excluded.sop_class_uid`,
      [
        hospital,
        feed,
        references.map((r) => r.seq),
        references.map((r) => r.sha256),
        references.map((r) => r.studyUid),
        references.map((r) => r.seriesUid),
        references.map((r) => r.sopInstanceUid),
        references.map((r) => r.sopClassUid),
      ],
    );
  }

  async forgetReferences(hospital: string, feed: string, seqs: readonly number[]): Promise<void> {
    this.assertOpen();
    if (seqs.length === 0) return;
    await this.database.query('DELETE FROM blob_refs WHERE hospital = $1 AND feed = $2 AND seq = ANY($3::bigint[])', [hospital, feed, [...seqs]]);
  }

  async studyInstances(hospital: string, feed: string, studyUid: string, throughSeq: number): Promise<BlobReference[]> {
    this.assertOpen();
    const rows = (
      await this.database.query<RefRow>(
        `SELECT ${REF_COLUMNS}
           FROM blob_refs r JOIN blob_instances i ON i.hospital = r.hospital AND i.sha256 = r.instance_sha256
          WHERE r.hospital = $1 AND r.feed = $2 AND r.study_uid = $3 AND r.seq <= $4 AND i.complete = 1
          ORDER BY r.series_uid COLLATE "C", r.seq`,
        [hospital, feed, studyUid, throughSeq],
      )
    ).rows;
    return rows.map(referenceOf);
  }

  async instanceReference(hospital: string, feed: string, studyUid: string, sopInstanceUid: string, throughSeq: number): Promise<BlobReference | undefined> {
    this.assertOpen();
    const row = (
      await this.database.query<RefRow>(
        `SELECT ${REF_COLUMNS}
           FROM blob_refs r JOIN blob_instances i ON i.hospital = r.hospital AND i.sha256 = r.instance_sha256
          WHERE r.hospital = $1 AND r.feed = $2 AND r.study_uid = $3 AND r.sop_instance_uid = $4 AND r.seq <= $5 AND i.complete = 1
          ORDER BY r.seq DESC LIMIT 1`,
        [hospital, feed, studyUid, sopInstanceUid, throughSeq],
      )
    ).rows[0];
    return row && referenceOf(row);
  }

  async deleteFeed(hospital: string, feed: string): Promise<BlobFeedDeletion> {
    this.assertOpen();
    return this.database.transaction(async (client) => {
      // Failure mode 7: no offer or chunk completion of the hospital runs meanwhile.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [BLOB_HOSPITAL_LOCK, hospital]);
      const references = (await client.query('DELETE FROM blob_refs WHERE hospital = $1 AND feed = $2', [hospital, feed])).rowCount ?? 0;
      await client.query('DELETE FROM blob_offers WHERE hospital = $1 AND feed = $2', [hospital, feed]);
      await client.query('DELETE FROM blob_feed_stats WHERE hospital = $1 AND feed = $2', [hospital, feed]);
      await client.query(
        `WITH unneeded AS (
           DELETE FROM blob_instances i
            WHERE i.hospital = $1
              AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.hospital = $1 AND r.instance_sha256 = i.sha256)
              AND NOT EXISTS (SELECT 1 FROM blob_offers o WHERE o.hospital = $1 AND o.instance_sha256 = i.sha256)
           RETURNING i.sha256
         )
         DELETE FROM blob_instance_chunks ic USING unneeded WHERE ic.hospital = $1 AND ic.instance_sha256 = unneeded.sha256`,
        [hospital],
      );
      const chunks = (
        await client.query<{ size: number }>(
          `DELETE FROM blob_chunks c
            WHERE c.hospital = $1 AND NOT EXISTS (SELECT 1 FROM blob_instance_chunks ic WHERE ic.hospital = $1 AND ic.chunk_sha256 = c.sha256)
           RETURNING c.size`,
          [hospital],
        )
      ).rows;
      const partials = (
        await client.query<{ bytes: number }>(
          `DELETE FROM blob_chunk_parts p
            WHERE p.hospital = $1 AND NOT EXISTS (SELECT 1 FROM blob_instance_chunks ic WHERE ic.hospital = $1 AND ic.chunk_sha256 = p.sha256)
           RETURNING octet_length(p.data)::bigint AS bytes`,
          [hospital],
        )
      ).rows;
      const bytesDeleted = chunks.reduce((sum, c) => sum + c.size, 0) + partials.reduce((sum, p) => sum + p.bytes, 0);
      return { references, chunksDeleted: chunks.length, bytesDeleted };
    });
  }

  async usage(): Promise<BlobFeedUsage[]> {
    this.assertOpen();
    const refs = await this.database.query<RefUsageRow>(
      `SELECT d.hospital, d.feed, COUNT(*)::bigint AS instances, COALESCE(SUM(i.size), 0)::bigint AS bytes
         FROM (SELECT DISTINCT hospital, feed, instance_sha256 FROM blob_refs) d
         JOIN blob_instances i ON i.hospital = d.hospital AND i.sha256 = d.instance_sha256
        GROUP BY d.hospital, d.feed`,
    );
    const stats = await this.database.query<FeedStatsRow>('SELECT hospital, feed, offered_bytes, deduped_bytes FROM blob_feed_stats');
    return blobFeedUsage(refs.rows, stats.rows);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The instance's chunks in order, read by `client` inside a transaction, else by the pool. */
  private async instanceChunks(client: DatabaseClient | undefined, hospital: string, instance: string): Promise<ChunkRow[]> {
    const text = 'SELECT idx, chunk_sha256, size FROM blob_instance_chunks WHERE hospital = $1 AND instance_sha256 = $2 ORDER BY idx';
    return (client ? await client.query<ChunkRow>(text, [hospital, instance]) : await this.database.query<ChunkRow>(text, [hospital, instance])).rows;
  }

  private async partialBytes(client: DatabaseClient, hospital: string, sha256: string): Promise<number> {
    const row = (await client.query<{ held: number }>('SELECT COALESCE(SUM(octet_length(data)), 0)::bigint AS held FROM blob_chunk_parts WHERE hospital = $1 AND sha256 = $2', [hospital, sha256]))
      .rows[0];
    return row?.held ?? 0;
  }

  /** Failure mode 6: the chunks' bytes in order, in slices of at most BLOB_READ_SLICE_BYTES. */
  private async *readChunks(hospital: string, chunks: readonly ChunkRow[]): AsyncGenerator<Buffer> {
    for (const chunk of chunks) {
      for (let from = 0; from < chunk.size; from += BLOB_READ_SLICE_BYTES) {
        const row = (
          await this.database.query<{ data: Buffer }>('SELECT substring(data FROM $3::int FOR $4::int) AS data FROM blob_chunks WHERE hospital = $1 AND sha256 = $2', [
            hospital,
            chunk.chunk_sha256,
            from + 1,
            BLOB_READ_SLICE_BYTES,
          ])
        ).rows[0];
        if (!row) throw new Error(`chunk ${chunk.chunk_sha256} of hospital "${hospital}" is gone (its feed was revoked while it was read)`);
        yield row.data;
      }
    }
  }

  /** Marks the instance complete once every chunk is held and the bytes hash to its SHA-256; false otherwise. Failure mode 5. */
  private async completeIfWhole(hospital: string, instance: string): Promise<boolean> {
    const row = (await this.database.query<{ complete: number }>('SELECT complete FROM blob_instances WHERE hospital = $1 AND sha256 = $2', [hospital, instance])).rows[0];
    if (!row) return false;
    if (row.complete === 1) return true;
    const lacking = (
      await this.database.query<{ n: number }>(
        `SELECT COUNT(*)::bigint AS n FROM blob_instance_chunks ic
           LEFT JOIN blob_chunks c ON c.hospital = ic.hospital AND c.sha256 = ic.chunk_sha256
          WHERE ic.hospital = $1 AND ic.instance_sha256 = $2 AND c.sha256 IS NULL`,
        [hospital, instance],
      )
    ).rows[0]!.n;
    if (lacking > 0) return false;
    const hash = createHash('sha256');
    try {
      for await (const piece of this.readChunks(hospital, await this.instanceChunks(undefined, hospital, instance))) hash.update(piece);
    } catch {
      return false;
    }
    if (hash.digest('hex') !== instance) return false;
    await this.database.query('UPDATE blob_instances SET complete = 1 WHERE hospital = $1 AND sha256 = $2', [hospital, instance]);
    return true;
  }

  private assertOpen(): void {
    if (this.closed) throw new FeedStoreClosedError();
  }
}
