// A chaos run: continuous ingest through MLLP and HTTP into a real agent process,
// replicating through the fault proxy to a real relay process, while a seeded
// schedule applies faults — connection resets, blackholes (half-open links),
// throttling, latency, relay SIGKILL, agent SIGKILL. Afterwards the invariant
// checker compares what sources were acknowledged, what the agent journaled and
// what the relay serves. Same seed, same schedule: a failure is replayable.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Hl7Corpus, MllpSender, SeededRandom } from '../../simulator/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/free-port.js';
import { readWholeFeed } from '../support/read-feed.js';
import { PAIR_FEED, PAIR_OPERATOR_HEADERS, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';
import { checkInvariants, type AcknowledgedInput, type CheckedEvent, type InvariantReport } from './invariant-checker.js';

export type FaultKind = 'reset' | 'blackhole' | 'throttle' | 'latency' | 'relay-kill' | 'agent-kill';
const FAULT_KINDS: readonly FaultKind[] = ['reset', 'blackhole', 'throttle', 'latency', 'relay-kill', 'agent-kill'];

export interface ChaosOptions {
  seed: number;
  /** Working directory (configs, databases, logs). */
  dir: string;
  /** How long ingest runs, in ms; events are spread evenly over it. */
  durationMs: number;
  /** Events to ingest in all (HL7 messages plus JSON rows). */
  events: number;
  /** Faults to apply at least; they are spread over the ingest period. */
  faults: number;
  /** Share of events sent as HL7 over MLLP (the rest as JSON rows over HTTP). */
  hl7Share?: number;
  log?: (line: string) => void;
}

export interface AppliedFault {
  atMs: number;
  kind: FaultKind;
  durationMs: number;
}

export interface ChaosResult {
  seed: number;
  faults: AppliedFault[];
  report: InvariantReport;
  ingestSeconds: number;
  drainSeconds: number;
}

const ROWS_PER_REQUEST = 100;
const JSON_STREAM = 'orders';

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? (() => {});
  const random = new SeededRandom(options.seed);
  const proxyPort = await freePort();
  const pair = await WardlinePair.create(options.dir, {
    hospital: 'chaos-hospital',
    logLevel: 'info',
    relayAddressForAgent: () => `127.0.0.1:${proxyPort}`,
  });
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: pair.ports.relayGrpc }, listenPort: proxyPort });
  await pair.startRelay();
  await pair.startAgent();
  const started = Date.now();
  const acknowledged: AcknowledgedInput[] = [];
  const relayAhead: string[] = [];
  let agentUp = true;
  let relayUp = true;

  // --- ingest: HL7 over MLLP, JSON rows over HTTP, paced over durationMs ---
  const hl7Total = Math.round(options.events * (options.hl7Share ?? 0.2));
  const jsonRequests = Math.ceil((options.events - hl7Total) / ROWS_PER_REQUEST);
  const paced = async (index: number, total: number): Promise<void> => {
    const due = started + (index / total) * options.durationMs;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };

  const corpus = new Hl7Corpus({ seed: `chaos-${options.seed}`, startTime: new Date() });
  const senders = Array.from({ length: 4 }, () => new MllpSender({ host: '127.0.0.1', port: pair.ports.mllp, ackTimeoutMs: 5000, reconnectDelayMs: 100 }));
  let hl7Next = 0;
  const hl7Workers = senders.map(async (sender) => {
    while (hl7Next < hl7Total) {
      const index = hl7Next++;
      await paced(index, hl7Total);
      const message = corpus.next();
      const ack = await sender.send(message.bytes, message.controlId);
      if (ack.code === 'AA') acknowledged.push({ sourceId: message.controlId, stream: message.stream });
    }
  });

  let jsonNext = 0;
  const jsonWorkers = Array.from({ length: 2 }, async () => {
    while (jsonNext < jsonRequests) {
      const index = jsonNext++;
      await paced(index, jsonRequests);
      const rows = Array.from({ length: ROWS_PER_REQUEST }, (_, i) => {
        const rowId = `row-${options.seed}-${index}-${i}`;
        return { key: `ORD-${random.int(1, 5000)}`, rowId, status: random.pick(['NW', 'IP', 'CM', 'CA']), note: '化验单已采样' };
      });
      // A request the agent did not answer is retried with the same Idempotency-Key,
      // as a careful local application would: acknowledged means exactly once.
      for (;;) {
        try {
          const response = await fetch(`${pair.agentHttp}/v1/ingest/${JSON_STREAM}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `chaos-${options.seed}-${index}` },
            body: JSON.stringify(rows),
            signal: AbortSignal.timeout(10_000),
          });
          if (response.ok) {
            for (const row of rows) acknowledged.push({ sourceId: row.rowId, stream: JSON_STREAM });
            break;
          }
          if (response.status < 500) throw new Error(`ingest refused: ${response.status} ${await response.text()}`);
        } catch (error) {
          if ((error as Error).message.startsWith('ingest refused')) throw error;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
  const ingest = Promise.all([...hl7Workers, ...jsonWorkers]).then(() => (Date.now() - started) / 1000);

  // --- the relay must never be ahead of the agent ---
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await new Promise((r) => setTimeout(r, 500));
      if (!agentUp || !relayUp) continue;
      try {
        const relayStatus = (await (await fetch(`${pair.relayHttp}/v1/status`, { headers: PAIR_OPERATOR_HEADERS, signal: AbortSignal.timeout(2000) })).json()) as {
          hospitals: { id: string; feeds: { feed: string; highWaterSeq: number }[] }[];
        };
        const highWater = relayStatus.hospitals.find((h) => h.id === 'chaos-hospital')?.feeds.find((f) => f.feed === PAIR_FEED)?.highWaterSeq ?? 0;
        const head = (await pair.agentStatus()).journal.headSeq;
        if (highWater > head) relayAhead.push(`relay ${highWater} > agent ${head} at ${new Date().toISOString()}`);
      } catch {
        // a process is restarting; the next sample will tell
      }
    }
  })();

  // --- faults: a seeded schedule spread over the ingest period ---
  // Start times are drawn across the ingest period up front, and each fault ends
  // before the next one starts, so the whole schedule fits inside the ingest.
  const faults: AppliedFault[] = [];
  const starts = Array.from({ length: options.faults }, () => random.int(500, Math.max(1000, options.durationMs - 1500))).sort((a, b) => a - b);
  for (let i = 0; i < options.faults; i++) {
    const wait = started + starts[i]! - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const kind = random.pick(FAULT_KINDS);
    const untilNext = (starts[i + 1] ?? options.durationMs) - starts[i]! - 100;
    const durationMs = Math.max(100, Math.min(random.int(300, 4000), untilNext));
    const atMs = Date.now() - started;
    log(`fault ${i + 1}/${options.faults} at ${(atMs / 1000).toFixed(1)} s: ${kind} for ${durationMs} ms`);
    faults.push({ atMs, kind, durationMs });
    switch (kind) {
      case 'reset':
        proxy.reset();
        break;
      case 'blackhole':
        proxy.blackhole();
        await new Promise((r) => setTimeout(r, durationMs));
        await proxy.heal();
        break;
      case 'throttle':
        proxy.throttle(random.int(20_000, 200_000));
        await new Promise((r) => setTimeout(r, durationMs));
        proxy.throttle(undefined);
        break;
      case 'latency':
        proxy.latency(random.int(50, 400));
        await new Promise((r) => setTimeout(r, durationMs));
        proxy.latency(0);
        break;
      case 'relay-kill':
        relayUp = false;
        await pair.relay!.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, durationMs));
        await pair.startRelay();
        relayUp = true;
        break;
      case 'agent-kill':
        agentUp = false;
        await pair.agent!.kill('SIGKILL');
        await pair.startAgent();
        agentUp = true;
        break;
    }
  }

  const ingestSeconds = await ingest;
  await Promise.all(senders.map((s) => s.close()));
  await proxy.heal();
  const drainStart = Date.now();
  const drained = await pair.waitForDrain(180_000);
  const drainSeconds = (Date.now() - drainStart) / 1000;
  sampling = false;
  await sampler;
  log(`ingest finished after ${ingestSeconds.toFixed(1)} s; backlog drained ${drainSeconds.toFixed(1)} s later (journal head ${drained.journal.headSeq})`);

  const feed = (await readWholeFeed(pair.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY)).map(
    (e): CheckedEvent => ({
      seq: e.seq,
      stream: e.stream,
      key: e.key,
      op: e.op,
      body: typeof e.body === 'string' ? e.body : JSON.stringify(e.body),
      sourceId: e.contentType === 'hl7v2' ? e.headers.controlId ?? '' : String((e.body as { rowId?: string }).rowId ?? ''),
    }),
  );
  await pair.stop();
  await proxy.stop();
  const journal = readJournal(join(options.dir, 'agent-data', 'agent.db'), ['adt', 'results', 'orders']);
  const report = checkInvariants(acknowledged, journal, feed, relayAhead);
  return { seed: options.seed, faults, report, ingestSeconds, drainSeconds };
}

/** The agent's journal events of the given streams, read straight from its SQLite file. */
function readJournal(file: string, streams: string[]): CheckedEvent[] {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db
      .prepare(`SELECT seq, stream, key, op, content_type, body, headers FROM journal WHERE stream IN (SELECT value FROM json_each(?)) ORDER BY seq`)
      .all(JSON.stringify(streams)) as { seq: number; stream: string; key: string; op: string; content_type: string; body: Buffer; headers: string }[];
    return rows.map((r) => {
      const body = r.body.toString('utf8');
      const sourceId = r.content_type === 'hl7v2' ? ((JSON.parse(r.headers) as { controlId?: string }).controlId ?? '') : String((JSON.parse(body) as { rowId?: string }).rowId ?? '');
      // JSON bodies are compared in the form the vendor API re-serialises them.
      return { seq: r.seq, stream: r.stream, key: r.key, op: r.op, body: r.content_type === 'json' ? JSON.stringify(JSON.parse(body)) : body, sourceId };
    });
  } finally {
    db.close();
  }
}
