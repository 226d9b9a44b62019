// The benchmark's workload and the two ways it enters the agent: HL7 messages over
// concurrent MLLP connections (each sender waits for its ACK, as a HIS does) and
// JSON rows posted in batches to the ingest API (as a local app or CDC job does).
// Everything is generated before any clock starts, so generation never counts.
import { performance } from 'node:perf_hooks';
import { Hl7Corpus, MllpSender, type CorpusMessage, type JsonStream } from '../../simulator/index.js';
import type { EventInput } from '../../agent/store/index.js';

/** Rows per ingest request: what a CDC job or an app's outbox flush typically posts. */
export const ROWS_PER_POST = 500;

export interface JsonPost {
  stream: JsonStream;
  /** The request body: a JSON array of rows. */
  body: string;
  rows: number;
}

export class BenchWorkload {
  private readonly corpus: Hl7Corpus;

  constructor(seed: string) {
    this.corpus = new Hl7Corpus({ seed });
  }

  /** HL7 ADT, ORU (several OBX), ORM…: 0.5–5 KB, one in five GB18030. */
  messages(count: number): CorpusMessage[] {
    return Array.from({ length: count }, () => this.corpus.next());
  }

  /** JSON rows (patients, appointments) grouped by stream into posts of ROWS_PER_POST. */
  jsonPosts(rowCount: number): JsonPost[] {
    const byStream = new Map<JsonStream, unknown[]>();
    for (let i = 0; i < rowCount; i++) {
      const { stream, row } = this.corpus.nextJsonRow();
      const rows = byStream.get(stream) ?? [];
      rows.push(row);
      byStream.set(stream, rows);
    }
    const posts: JsonPost[] = [];
    for (const [stream, rows] of byStream) {
      for (let i = 0; i < rows.length; i += ROWS_PER_POST) {
        const slice = rows.slice(i, i + ROWS_PER_POST);
        posts.push({ stream, body: JSON.stringify(slice), rows: slice.length });
      }
    }
    return posts;
  }
}

/** The events a workload becomes in the journal, for the raw-insert ceiling and size figures. */
export function eventsOf(messages: readonly CorpusMessage[], posts: readonly JsonPost[]): EventInput[] {
  const events: EventInput[] = messages.map((m) => ({
    stream: m.stream,
    key: m.key,
    op: 'upsert',
    contentType: 'hl7v2',
    // The agent journals HL7 as UTF-8 whatever MSH-18 said on the wire.
    body: Buffer.from(m.text, 'utf8'),
    headers: { controlId: m.controlId },
  }));
  for (const post of posts) {
    for (const row of JSON.parse(post.body) as { key: string }[]) {
      events.push({ stream: post.stream, key: row.key, op: 'upsert', contentType: 'json', body: Buffer.from(JSON.stringify(row)), headers: {} });
    }
  }
  return events;
}

export interface MllpRun {
  messages: number;
  seconds: number;
  perSecond: number;
  /** ACK latencies in ms, sorted. */
  latencies: number[];
}

/**
 * Sends `messages` over `connections` MLLP connections, each waiting for its ACK
 * before its next message. With `ratePerSecond`, messages leave on a fixed
 * schedule across the connections (a steady feed) instead of as fast as ACKs come.
 */
export async function sendOverMllp(port: number, messages: readonly CorpusMessage[], connections: number, ratePerSecond?: number): Promise<MllpRun> {
  const senders = Array.from({ length: connections }, () => new MllpSender({ host: '127.0.0.1', port }));
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  try {
    await Promise.all(
      senders.map(async (sender) => {
        for (;;) {
          const index = next++;
          if (index >= messages.length) return;
          if (ratePerSecond) {
            const dueMs = start + (index * 1000) / ratePerSecond - performance.now();
            if (dueMs > 0) await new Promise((resolve) => setTimeout(resolve, dueMs));
          }
          const message = messages[index]!;
          const ack = await sender.send(message.bytes, message.controlId);
          if (ack.code !== 'AA') throw new Error(`MLLP ${message.controlId}: ${ack.code} ${ack.text}`);
          latencies.push(ack.latencyMs);
        }
      }),
    );
  } finally {
    await Promise.all(senders.map((s) => s.close()));
  }
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { messages: messages.length, seconds, perSecond: messages.length / seconds, latencies };
}

export interface HttpRun {
  rows: number;
  seconds: number;
  perSecond: number;
}

/**
 * Posts the batches to the agent's ingest API, `concurrency` requests at a time,
 * each answered after commit: all of them, or until `stop()` says so.
 */
export async function postJsonRows(agentHttp: string, posts: readonly JsonPost[], concurrency: number, stop: () => boolean = () => false): Promise<HttpRun> {
  let next = 0;
  let rows = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const post = posts[next++];
        if (!post || stop()) return;
        const response = await fetch(`${agentHttp}/v1/ingest/${encodeURIComponent(post.stream)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: post.body,
        });
        const answer = await response.text();
        if (!response.ok) throw new Error(`POST ${post.stream}: ${response.status} ${answer}`);
        rows += post.rows;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { rows, seconds, perSecond: rows / seconds };
}

/** The p-quantile (0..1) of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}
