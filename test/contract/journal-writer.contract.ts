// The JournalWriter contract (agent/store/append-request.ts), what every source
// relies on: append resolves only once the events are durable, with one seq per
// event in order; a dedupe key already held appends nothing and returns the
// earlier seqs; a writer whose database is closed rejects and claims nothing.
import { describe, expect, it } from 'vitest';
import type { AppendRequest, EventInput, JournalWriter } from '../../agent/store/index.js';

/** An event as it is durable: what a reopened store would hand back. */
export interface DurableEvent {
  seq: number;
  stream: string;
  key: string;
  source: string;
  body: string;
}

export interface JournalWriterHarness {
  writer: JournalWriter;
  /** What is durable now, read the way a restarted agent would (for SQLite: another connection to the file), in seq order. */
  durable(): DurableEvent[];
  /** Closes the underlying store; appends after it must reject. */
  close(): void;
  /** Releases everything (idempotent, also after close()). */
  dispose(): void;
}

export type JournalWriterFactory = () => JournalWriterHarness;

function event(key: string, body = `{"key":"${key}"}`, stream = 'patients'): EventInput {
  return { stream, key, op: 'upsert', contentType: 'json', body: Buffer.from(body), headers: {} };
}

function request(keys: string[], dedupe?: AppendRequest['dedupe']): AppendRequest {
  return { source: 'contract', events: keys.map((k) => event(k)), dedupe };
}

export function describeJournalWriterContract(label: string, factory: JournalWriterFactory): void {
  describe(`JournalWriter contract: ${label}`, () => {
    function withHarness(test: (h: JournalWriterHarness) => Promise<void>): () => Promise<void> {
      return async () => {
        const h = factory();
        try {
          await test(h);
        } finally {
          h.dispose();
        }
      };
    }

    it(
      'is durable when append resolves: a reopened store holds every event of the request',
      withHarness(async ({ writer, durable }) => {
        const result = await writer.append(request(['A', 'B']));
        expect(result.duplicate).toBe(false);
        expect(durable()).toEqual([
          { seq: result.seqs[0], stream: 'patients', key: 'A', source: 'contract', body: '{"key":"A"}' },
          { seq: result.seqs[1], stream: 'patients', key: 'B', source: 'contract', body: '{"key":"B"}' },
        ]);
      }),
    );

    it(
      'assigns one increasing seq per event, in request order, across concurrent appends',
      withHarness(async ({ writer, durable }) => {
        const first = await writer.append(request(['A', 'B']));
        expect(first.seqs[1]).toBe(first.seqs[0]! + 1);
        const results = await Promise.all(['C', 'D', 'E', 'F'].map((key) => writer.append(request([key]))));
        const seqs = [...first.seqs, ...results.flatMap((r) => r.seqs)];
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        expect(new Set(seqs).size).toBe(seqs.length);
        expect(durable().map((e) => e.key)).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
        expect(durable().map((e) => e.seq)).toEqual(seqs);
      }),
    );

    it(
      'appends nothing for a dedupe key it holds and returns the earlier seqs',
      withHarness(async ({ writer, durable }) => {
        const dedupe = { scope: 'HIS|HOSP', id: 'MSG-1', digest: 'd1' };
        const first = await writer.append(request(['A'], dedupe));
        const again = await writer.append(request(['A'], dedupe));
        expect(again).toMatchObject({ seqs: first.seqs, duplicate: true });
        expect(durable()).toHaveLength(1);
        // Another scope is another key.
        const elsewhere = await writer.append(request(['A'], { ...dedupe, scope: 'LIS|HOSP' }));
        expect(elsewhere.duplicate).toBe(false);
        expect(durable()).toHaveLength(2);
      }),
    );

    it(
      'appends the same id with another digest as new and says the id was reused; without a digest the id alone decides',
      withHarness(async ({ writer, durable }) => {
        await writer.append(request(['A'], { scope: 's', id: 'MSG-1', digest: 'd1' }));
        const reused = await writer.append(request(['B'], { scope: 's', id: 'MSG-1', digest: 'd2' }));
        expect(reused).toMatchObject({ duplicate: false, idReused: true });
        expect(durable().map((e) => e.key)).toEqual(['A', 'B']);

        const keyed = await writer.append(request(['C'], { scope: 'http|patients', id: 'IDEM-1' }));
        const retried = await writer.append(request(['D'], { scope: 'http|patients', id: 'IDEM-1' }));
        expect(retried).toMatchObject({ seqs: keyed.seqs, duplicate: true });
        expect(durable().map((e) => e.key)).toEqual(['A', 'B', 'C']);
      }),
    );

    it(
      'concurrent appends of the same key store it once',
      withHarness(async ({ writer, durable }) => {
        const dedupe = { scope: 's', id: 'SAME', digest: 'd' };
        const results = await Promise.all([1, 2, 3].map(() => writer.append(request(['A'], dedupe))));
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
        expect(new Set(results.map((r) => r.seqs[0]))).toEqual(new Set([results[0]!.seqs[0]]));
        expect(durable()).toHaveLength(1);
      }),
    );

    it(
      'rejects once its store is closed, and claims nothing durable',
      withHarness(async ({ writer, durable, close }) => {
        await writer.append(request(['A']));
        const before = durable();
        close();
        await expect(writer.append(request(['B']))).rejects.toThrow();
        expect(durable()).toEqual(before);
      }),
    );
  });
}
