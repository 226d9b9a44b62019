// The imaging fault scenario shared by test/integration/imaging-replication.int.test.ts
// (a study of tens of MB) and scripts/imaging-cut-kill.mjs (the full 2 GB): a
// relay and an agent as real processes, the line through a FaultProxy, a study
// sent by dcmtk's storescu into the agent's DICOM SCP while the line is down.
// Then the line comes back and, by the bytes the proxy carried towards the relay:
// refused (connections reset) at 30%, blackholed at 60% (the agent must find the
// dead link by its keepalive), refused at 90%, and the agent SIGKILLed once at 45%
// and restarted. Throughout, the vendor's view of the feed is polled: every
// blob-ref event a vendor can read must name an instance the relay holds complete.
// Afterwards: every instance is hashed from the relay's chunk files; the PACS
// sends the study again (no new event, no chunk bytes); a second imaging feed,
// paused from the start, is resumed (no chunk bytes: the relay holds them all).
// Variants (options): both feeds shipping at once, storescu sending while the
// line is up, the relay SIGKILLed too.
//
// Returns figures, asserts nothing: the test asserts, the script prints.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { parseImagingInstanceBody, type ImagingInstanceBody } from '../../protocol/index.js';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { testUids, writeDicomFile } from './dicom-files.js';
import { FaultProxy } from './fault-proxy.js';
import { freePort } from './free-port.js';
import { readWholeFeed } from './read-feed.js';
import { PAIR_OPERATOR_HEADERS, PAIR_VENDOR_KEY, WardlinePair } from './wardline-pair.js';

// Asynchronous: the test process must go on polling the vendor feed while dcmtk sends.
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const IMAGING_FEED = 'pacs';
export const SECOND_IMAGING_FEED = 'pacs-research';
const AE_TITLE = 'WARDLINE';
const CALLING_AE_TITLE = 'MODALITY';

/** The study: single-frame instances (under one 4 MiB chunk) and multi-frame ones (several chunks). */
export interface StudyShape {
  /** Single-frame instances of `rows` × `columns` 16-bit pixels. */
  singleFrame: number;
  /** Multi-frame instances of `frames` frames each. */
  multiFrame: number;
  frames: number;
  /** Default 512 (512 KiB a frame). */
  rows?: number;
  columns?: number;
}

export interface ImagingCutKillOptions {
  /** A directory of the caller's (the study, configs, data dirs, logs go under it). */
  dir: string;
  study: StudyShape;
  /** Fractions of the study's bytes carried towards the relay at which the line is cut; default 0.3, 0.6, 0.9. */
  cutsAt?: readonly number[];
  /** Fraction at which the agent is SIGKILLed and restarted; default 0.45; null: not killed. */
  killAt?: number | null;
  /**
   * The second imaging feed sends from the start, beside the first (both ship the
   * same instances at once), instead of being paused until the first is done.
   */
  secondFeedFromStart?: boolean;
  /** Fraction at which the relay is SIGKILLed and restarted; default null (not killed). */
  killRelayAt?: number | null;
  /** storescu sends while the line is up and the transfer under way, instead of while it is down; default false. */
  storeWhileLineUp?: boolean;
  /** How long each cut lasts, in ms; default 1500. */
  cutMs?: number;
  /** The whole replication's limit, in ms; default 20 minutes. */
  timeoutMs?: number;
  /** Progress lines (the script prints them; the test keeps them quiet). */
  log?: (line: string) => void;
}

export interface ImagingCutKillResult {
  instances: number;
  /** Bytes of the Part-10 files storescu sent. */
  fileBytes: number;
  /** Bytes of the instances as the agent archived them (the blob-ref events' sizes): what must cross the line. */
  studyBytes: number;
  /** Bytes the agent put on the line towards the relay during the transfer (delivered plus swallowed by the blackhole). */
  wireBytes: number;
  /** Chunk bytes the relay took in BlobParts (its wardline_relay_blob_part_bytes_total). */
  relayPartBytes: number;
  storeSeconds: number;
  replicateSeconds: number;
  /** What happened to the line, in order, with the fraction carried at the time. */
  faults: { kind: 'refuse' | 'blackhole' | 'sigkill' | 'relay-sigkill'; atFraction: number }[];
  /** Instances whose bytes at the relay hash to the SHA-256 the agent archived. */
  verified: number;
  /** Problems found at the relay: an instance missing, a hash that differs. */
  mismatches: string[];
  /** Polls of the vendor feed during the transfer, and the instances seen visible at the relay. */
  visibilityPolls: number;
  /** Blob-ref events a vendor could read whose instance the relay did not hold complete at that moment. */
  visibleBeforeComplete: string[];
  resend: { newEvents: number; wireBytes: number; relayPartBytes: number; agentChunkBytes: number };
  /** Chunk bytes each imaging feed's shipper sent during the transfer, since the agent's last start. */
  chunkBytesByFeed: Record<string, number>;
  /** Each imaging feed's status (GET /v1/status imaging) once everything is acknowledged. */
  finalImaging: Record<string, { instancesWaiting: number; bytesWaiting: number; studiesWaiting: number; problem: unknown; current: unknown; dedupedBytes: number }>;
  secondFeed: { events: number; wireBytes: number; relayPartBytes: number; agentChunkBytes: number; relayDedupedBytes: number };
}

interface ImagingEvent {
  seq: number;
  body: ImagingInstanceBody;
}

/** Writes the study's Part-10 files; returns their paths and total size. */
export function writeStudy(dir: string, shape: StudyShape, study = 7): { paths: string[]; bytes: number } {
  mkdirSync(dir, { recursive: true });
  const uids = testUids(study);
  const paths: string[] = [];
  let bytes = 0;
  const series = [
    { number: 1, count: shape.singleFrame, frames: 1 },
    { number: 2, count: shape.multiFrame, frames: shape.frames },
  ];
  for (const { number, count, frames } of series) {
    for (let i = 1; i <= count; i++) {
      const path = join(dir, `s${number}-i${i}.dcm`);
      bytes += writeDicomFile(path, {
        studyUid: uids.studyUid,
        seriesUid: uids.seriesUid(number),
        sopInstanceUid: uids.sopInstanceUid(number, i),
        rows: shape.rows ?? 512,
        columns: shape.columns ?? 512,
        frames,
        extra: [{ tag: '00200013', vr: 'IS', value: String(i) }],
      });
      paths.push(path);
    }
  }
  return { paths, bytes };
}

/** Sends the files with storescu, in batches so a 2 GB study's argument list stays short. */
export async function storeStudy(port: number, paths: readonly string[]): Promise<void> {
  for (let i = 0; i < paths.length; i += 200) {
    await run('storescu', ['-aet', CALLING_AE_TITLE, '-aec', AE_TITLE, '127.0.0.1', String(port), ...paths.slice(i, i + 200)], { maxBuffer: 16 * 1024 * 1024 });
  }
}

/** The agent's imaging events, read from its journal (read-only: the agent runs in another process). */
function agentImagingEvents(agentDb: string): ImagingEvent[] {
  const db = new Database(agentDb, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT seq, body FROM journal WHERE stream = 'imaging' ORDER BY seq").all() as { seq: number; body: Buffer }[];
    return rows.map((row) => ({ seq: row.seq, body: parseImagingInstanceBody(row.body) }));
  } finally {
    db.close();
  }
}

/** Reads the relay's SQLite file (read-only, beside the running relay). */
function withRelayDb<T>(relayDb: string, fn: (db: Database.Database) => T): T {
  const db = new Database(relayDb, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A counter of the relay's /metrics for one hospital (0 when not yet exported). */
async function relayCounter(pair: WardlinePair, name: string, hospital: string): Promise<number> {
  const text = await (await fetch(`${pair.relayHttp}/metrics`, { headers: PAIR_OPERATOR_HEADERS })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`hospital="${hospital}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

function feedOf(status: AgentStatus, feed: string): AgentStatus['feeds'][number] {
  const found = status.feeds.find((f) => f.feed === feed);
  if (!found) throw new Error(`the agent reports no feed ${feed}`);
  return found;
}

/** Chunk bytes the running agent process sent for a feed (its status; restarts at 0 with the process). */
async function agentChunkBytes(pair: WardlinePair, feed: string): Promise<number> {
  return feedOf(await pair.agentStatus(), feed).imaging?.chunkBytesSent ?? 0;
}

async function waitForAcked(pair: WardlinePair, feed: string, seq: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let status: AgentStatus | undefined;
    try {
      status = await pair.agentStatus();
    } catch {
      // restarting
    }
    if (status && feedOf(status, feed).ackedSeq >= seq) return;
    if (Date.now() > deadline) {
      const f = status ? feedOf(status, feed) : undefined;
      throw new Error(`${what}: feed ${feed} not acknowledged through seq ${seq} within ${timeoutMs} ms (acked ${f?.ackedSeq}, blocked ${f?.blocked}, imaging ${JSON.stringify(f?.imaging)})\n${pair.agent?.recentOutput ?? ''}`);
    }
    await sleep(200);
  }
}

/** Hashes each instance of the feed from the relay's chunk files; returns the instances verified and what was wrong. */
async function verifyAtRelay(relayData: string, hospital: string, feed: string, expected: readonly ImagingEvent[]): Promise<{ verified: number; mismatches: string[] }> {
  const rows = withRelayDb(join(relayData, 'relay.db'), (db) => ({
    refs: db.prepare('SELECT seq, instance_sha256 AS sha FROM blob_refs WHERE hospital = ? AND feed = ?').all(hospital, feed) as { seq: number; sha: string }[],
    chunks: db.prepare('SELECT instance_sha256 AS instance, idx, chunk_sha256 AS chunk FROM blob_instance_chunks WHERE hospital = ? ORDER BY instance_sha256, idx').all(hospital) as { instance: string; idx: number; chunk: string }[],
  }));
  const refs = new Map(rows.refs.map((r) => [r.seq, r.sha]));
  const chunksOf = new Map<string, string[]>();
  for (const c of rows.chunks) chunksOf.set(c.instance, [...(chunksOf.get(c.instance) ?? []), c.chunk]);
  const mismatches: string[] = [];
  let verified = 0;
  for (const { seq, body } of expected) {
    const sha = refs.get(seq);
    if (sha !== body.sha256) {
      mismatches.push(`seq ${seq} (${body.sopInstanceUid}): the relay's reference names ${sha ?? 'nothing'}, the agent archived ${body.sha256}`);
      continue;
    }
    const hash = createHash('sha256');
    for (const chunk of chunksOf.get(sha) ?? []) {
      for await (const data of createReadStream(join(relayData, 'blobs', hospital, chunk.slice(0, 2), chunk))) hash.update(data as Buffer);
    }
    const actual = hash.digest('hex');
    if (actual === body.sha256) verified++;
    else mismatches.push(`seq ${seq} (${body.sopInstanceUid}): the relay's bytes hash to ${actual}, the agent archived ${body.sha256}`);
  }
  return { verified, mismatches };
}

/**
 * Polls the vendor's view of the feed until stopped: each blob-ref event listed
 * must name an instance the relay holds complete (blob_instances.complete), read
 * after the listing so an instance completing meanwhile can only pass.
 */
function watchVisibility(pair: WardlinePair, relayDb: string, hospital: string, feed: string): { stop(): Promise<{ polls: number; seen: number; violations: string[] }> } {
  let stopped = false;
  let polls = 0;
  let cursor = 0;
  const seen = new Set<number>();
  const violations: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      try {
        const events = await readWholeFeed(pair.relayHttp, feed, PAIR_VENDOR_KEY, cursor, 1000);
        polls++;
        if (events.length > 0) {
          const complete = withRelayDb(relayDb, (db) => {
            const query = db.prepare<[string, string], { complete: number }>('SELECT complete FROM blob_instances WHERE hospital = ? AND sha256 = ?');
            return events.map((e) => {
              const body = parseImagingInstanceBody(Buffer.from(e.bodyBase64 ?? '', 'base64'));
              return { seq: e.seq, uid: body.sopInstanceUid, complete: query.get(hospital, body.sha256)?.complete === 1 };
            });
          });
          for (const e of complete) {
            if (!e.complete) violations.push(`seq ${e.seq} (${e.uid}) readable by the vendor before the relay held it complete`);
            seen.add(e.seq);
          }
          cursor = events[events.length - 1]!.seq;
        }
      } catch {
        // the relay or its file busy for a moment: poll again
      }
      await sleep(250);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { polls, seen: seen.size, violations };
    },
  };
}

export async function runImagingCutKill(options: ImagingCutKillOptions): Promise<ImagingCutKillResult> {
  const log = options.log ?? (() => {});
  const cutsAt = options.cutsAt ?? [0.3, 0.6, 0.9];
  const killAt = options.killAt === undefined ? 0.45 : options.killAt;
  const concurrent = options.secondFeedFromStart ?? false;
  const storeWhileLineUp = options.storeWhileLineUp ?? false;
  const cutMs = options.cutMs ?? 1500;
  const timeoutMs = options.timeoutMs ?? 20 * 60_000;
  const hospital = 'imaging-hospital';

  const started = Date.now();
  const study = writeStudy(join(options.dir, 'study'), options.study);
  log(`study: ${study.paths.length} instances, ${study.bytes} bytes of Part-10 files, written in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const proxyPort = await freePort();
  const dicomPort = await freePort();
  const pair = await WardlinePair.create(options.dir, {
    hospital,
    relayAddressForAgent: () => `127.0.0.1:${proxyPort}`,
    // The blackhole must be found in seconds, not the default's tens of seconds.
    agentRelay: { keepaliveTimeMs: 1000, keepaliveTimeoutMs: 1000 },
    extraSources: [{ kind: 'dicom', name: 'pacs', listen: `127.0.0.1:${dicomPort}`, aeTitle: AE_TITLE, acceptCallingAeTitles: [CALLING_AE_TITLE] }],
    extraFeeds: [
      { name: IMAGING_FEED, streams: ['imaging'], class: 'bulk' },
      { name: SECOND_IMAGING_FEED, streams: ['imaging'], class: 'bulk' },
    ],
  });
  const relayData = join(options.dir, 'relay-data');
  const relayDb = join(relayData, 'relay.db');
  const agentDb = join(options.dir, 'agent-data', 'agent.db');
  await pair.startRelay();
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: pair.ports.relayGrpc }, listenPort: proxyPort });
  try {
    // The line is down while the PACS sends: the whole study is backlog when it returns.
    proxy.refuse();
    await pair.startAgent();
    if (!concurrent) {
      const paused = await pair.adminPost(`/v1/admin/feeds/${SECOND_IMAGING_FEED}/pause`, { reason: 'added later' });
      if (!paused.ok) throw new Error(`pausing ${SECOND_IMAGING_FEED}: HTTP ${paused.status} ${await paused.text()}`);
    }

    // The transfer, with the faults placed by the bytes carried.
    const wire = (): number => proxy.stats.bytesToTarget + proxy.stats.swallowedToTarget;
    const wireAtStart = wire();
    const storeStarted = Date.now();
    let storeSeconds = 0;
    const stored = async (): Promise<{ events: ImagingEvent[]; studyBytes: number; lastSeq: number }> => {
      await storeStudy(dicomPort, study.paths);
      storeSeconds = (Date.now() - storeStarted) / 1000;
      const events = agentImagingEvents(agentDb);
      if (events.length !== study.paths.length) throw new Error(`the agent journaled ${events.length} imaging events for ${study.paths.length} instances stored`);
      const studyBytes = events.reduce((sum, e) => sum + e.body.size, 0);
      log(`stored in ${storeSeconds.toFixed(1)} s: ${events.length} events, ${studyBytes} bytes archived`);
      return { events, studyBytes, lastSeq: events[events.length - 1]!.seq };
    };
    let storing: Promise<Awaited<ReturnType<typeof stored>>>;
    if (storeWhileLineUp) {
      await proxy.heal();
      storing = stored();
      // Not unhandled while the faults go on; awaited below.
      storing.catch(() => {});
    } else {
      storing = Promise.resolve(await stored());
    }
    // Until storescu is done the archived size is not known: the files' size stands in (it differs by a few bytes an instance).
    const estimate = storeWhileLineUp ? study.bytes : (await storing).studyBytes;
    const fraction = (): number => (wire() - wireAtStart) / estimate;
    const watch = watchVisibility(pair, relayDb, hospital, IMAGING_FEED);
    const replicateStarted = Date.now();
    const deadline = replicateStarted + timeoutMs;
    const faults: ImagingCutKillResult['faults'] = [];
    await proxy.heal();
    const plan = [
      ...cutsAt.map((at, i) => ({ at, kind: i === 1 ? ('blackhole' as const) : ('refuse' as const) })),
      ...(killAt === null ? [] : [{ at: killAt, kind: 'sigkill' as const }]),
      ...(options.killRelayAt == null ? [] : [{ at: options.killRelayAt, kind: 'relay-sigkill' as const }]),
    ].sort((a, b) => a.at - b.at);
    for (const step of plan) {
      while (fraction() < step.at) {
        if (Date.now() > deadline) throw new Error(`only ${(fraction() * 100).toFixed(1)}% of the study carried after ${timeoutMs} ms\n${pair.agent?.recentOutput ?? ''}`);
        await sleep(20);
      }
      faults.push({ kind: step.kind, atFraction: fraction() });
      log(`${step.kind} at ${(fraction() * 100).toFixed(1)}% carried (${((Date.now() - replicateStarted) / 1000).toFixed(1)} s)`);
      if (step.kind === 'sigkill') {
        // Not while storescu sends: the PACS would see its association drop (and send again, which is another test).
        await storing;
        await pair.agent!.kill('SIGKILL');
        await pair.startAgent();
      } else if (step.kind === 'relay-sigkill') {
        await pair.relay!.kill('SIGKILL');
        await pair.startRelay();
      } else {
        if (step.kind === 'refuse') proxy.refuse();
        else proxy.blackhole();
        await sleep(cutMs);
        await proxy.heal();
      }
    }
    const { events, studyBytes, lastSeq } = await storing;
    await waitForAcked(pair, IMAGING_FEED, lastSeq, Math.max(1000, deadline - Date.now()), 'the study');
    if (concurrent) await waitForAcked(pair, SECOND_IMAGING_FEED, lastSeq, Math.max(1000, deadline - Date.now()), 'the study in the second feed');
    const replicateSeconds = (Date.now() - replicateStarted) / 1000;
    const wireBytes = wire() - wireAtStart;
    const chunkBytesByFeed = { [IMAGING_FEED]: await agentChunkBytes(pair, IMAGING_FEED), [SECOND_IMAGING_FEED]: await agentChunkBytes(pair, SECOND_IMAGING_FEED) };
    const visibility = await watch.stop();
    const relayPartBytes = await relayCounter(pair, 'wardline_relay_blob_part_bytes_total', hospital);
    log(
      `replicated in ${replicateSeconds.toFixed(1)} s: ${wireBytes} bytes on the wire (${(wireBytes / studyBytes).toFixed(4)} × the study), relay took ${relayPartBytes} chunk bytes; chunk bytes sent by feed ${JSON.stringify(chunkBytesByFeed)}`,
    );

    const { verified, mismatches } = await verifyAtRelay(relayData, hospital, IMAGING_FEED, events);
    if (concurrent) mismatches.push(...(await verifyAtRelay(relayData, hospital, SECOND_IMAGING_FEED, events)).mismatches.map((m) => `${SECOND_IMAGING_FEED}: ${m}`));
    log(`verified at the relay: ${verified} of ${events.length} instances${mismatches.length ? `; ${mismatches.length} problems` : ''}`);

    // The PACS sends the study again: deduplicated by the agent, nothing crosses.
    const resendWire = wire();
    const resendPart = await relayCounter(pair, 'wardline_relay_blob_part_bytes_total', hospital);
    const resendChunks = await agentChunkBytes(pair, IMAGING_FEED);
    await storeStudy(dicomPort, study.paths);
    await sleep(2000);
    const resend = {
      newEvents: agentImagingEvents(agentDb).length - events.length,
      wireBytes: wire() - resendWire,
      relayPartBytes: (await relayCounter(pair, 'wardline_relay_blob_part_bytes_total', hospital)) - resendPart,
      agentChunkBytes: (await agentChunkBytes(pair, IMAGING_FEED)) - resendChunks,
    };
    log(`sent again: ${resend.newEvents} new events, ${resend.wireBytes} bytes on the wire, ${resend.relayPartBytes} chunk bytes at the relay`);

    // A second feed of the same study: the relay already holds every chunk.
    const secondWire = wire();
    const secondPart = await relayCounter(pair, 'wardline_relay_blob_part_bytes_total', hospital);
    const secondDeduped = await relayCounter(pair, 'wardline_relay_blob_deduped_bytes_total', hospital);
    const secondChunks = await agentChunkBytes(pair, SECOND_IMAGING_FEED);
    if (!concurrent) {
      const resumed = await pair.adminPost(`/v1/admin/feeds/${SECOND_IMAGING_FEED}/resume`, {});
      if (!resumed.ok) throw new Error(`resuming ${SECOND_IMAGING_FEED}: HTTP ${resumed.status} ${await resumed.text()}`);
    }
    await waitForAcked(pair, SECOND_IMAGING_FEED, lastSeq, 120_000, 'the second feed');
    const secondEvents = await readWholeFeed(pair.relayHttp, SECOND_IMAGING_FEED, PAIR_VENDOR_KEY);
    const secondFeed = {
      events: secondEvents.length,
      wireBytes: wire() - secondWire,
      relayPartBytes: (await relayCounter(pair, 'wardline_relay_blob_part_bytes_total', hospital)) - secondPart,
      agentChunkBytes: (await agentChunkBytes(pair, SECOND_IMAGING_FEED)) - secondChunks,
      relayDedupedBytes: (await relayCounter(pair, 'wardline_relay_blob_deduped_bytes_total', hospital)) - secondDeduped,
    };
    log(`second feed: ${secondFeed.events} events readable, ${secondFeed.wireBytes} bytes on the wire, ${secondFeed.relayPartBytes} chunk bytes at the relay, ${secondFeed.relayDedupedBytes} bytes deduplicated`);

    const finalStatus = await pair.agentStatus();
    const finalImaging = Object.fromEntries(
      [IMAGING_FEED, SECOND_IMAGING_FEED].map((feed) => {
        const imaging = feedOf(finalStatus, feed).imaging;
        return [feed, { instancesWaiting: imaging?.instancesWaiting ?? -1, bytesWaiting: imaging?.bytesWaiting ?? -1, studiesWaiting: imaging?.studiesWaiting ?? -1, problem: imaging?.problem ?? null, current: imaging?.current ?? null, dedupedBytes: imaging?.dedupedBytes ?? -1 }];
      }),
    );
    return {
      finalImaging,
      instances: events.length,
      fileBytes: study.bytes,
      studyBytes,
      wireBytes,
      relayPartBytes,
      storeSeconds,
      replicateSeconds,
      faults,
      verified,
      mismatches,
      visibilityPolls: visibility.polls,
      visibleBeforeComplete: visibility.violations,
      chunkBytesByFeed,
      resend,
      secondFeed,
    };
  } finally {
    await pair.stop();
    await proxy.stop();
  }
}
