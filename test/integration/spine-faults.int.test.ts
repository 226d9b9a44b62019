// The replication spine under faults, with real processes and real sockets:
// HL7 over several concurrent MLLP connections into a real agent process, which
// replicates to a real relay process; meanwhile the relay is stopped and
// restarted, the agent is killed with SIGKILL while the relay is down (so its
// backlog can only survive on disk), and later the relay is killed with SIGKILL.
// Afterwards every message that received AA is in the vendor feed exactly once,
// in journal order, and the agent's local copy holds the latest version of every
// record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hl7Corpus, MllpSender, type CorpusMessage } from '../../simulator/index.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_FEED, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';

const TOTAL_MESSAGES = Number(process.env.WARDLINE_SPINE_MESSAGES ?? 50_000);
const CONNECTIONS = 8;

interface Sent {
  message: CorpusMessage;
  code: string;
  latencyMs: number;
  attempts: number;
  ackedAtMs: number;
}

describe('replication spine under relay restarts and agent SIGKILL', () => {
  const dir = makeTempDir('wardline-spine-');
  let pair: WardlinePair;

  beforeAll(async () => {
    pair = await WardlinePair.create(dir.path, { hospital: 'spine-hospital' });
    await pair.startRelay();
    await pair.startAgent();
  });

  afterAll(async () => {
    await pair?.stop();
    dir.remove();
  });

  it(`delivers every acknowledged message of ${TOTAL_MESSAGES} exactly once, in order, with the latest version in the local copy`, async () => {
    const corpus = new Hl7Corpus({ seed: 'spine-faults', patients: 3000 });
    let remaining = TOTAL_MESSAGES;
    const sent: Sent[] = [];
    const relayDown: { fromMs: number; toMs: number }[] = [];
    let backlogWhileRelayDown = 0;

    const senders = Array.from({ length: CONNECTIONS }, () => new MllpSender({ host: '127.0.0.1', port: pair.ports.mllp, ackTimeoutMs: 5000, reconnectDelayMs: 100 }));
    const workers = senders.map(async (sender) => {
      while (remaining > 0) {
        remaining--;
        const message = corpus.next();
        const ack = await sender.send(message.bytes, message.controlId);
        sent.push({ message, code: ack.code, latencyMs: ack.latencyMs, attempts: ack.attempts, ackedAtMs: Date.now() });
      }
    });

    const waitForAcked = async (fraction: number): Promise<void> => {
      while (sent.length < TOTAL_MESSAGES * fraction) await new Promise((r) => setTimeout(r, 20));
    };
    const faults = (async () => {
      // 1. Relay stopped cleanly; ingest must go on.
      await waitForAcked(0.2);
      const downFrom = Date.now();
      await pair.relay!.kill('SIGTERM');
      // 2. While the relay is down, the agent is killed: its backlog can only survive on disk.
      await waitForAcked(0.3);
      backlogWhileRelayDown = (await pair.agentStatus()).feeds[0]!.backlog.events;
      relayDown.push({ fromMs: downFrom, toMs: Date.now() });
      await pair.agent!.kill('SIGKILL');
      await pair.startAgent();
      await waitForAcked(0.4);
      await pair.startRelay();
      // 3. The relay is killed mid-stream and comes back.
      await waitForAcked(0.7);
      await pair.relay!.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1000));
      await pair.startRelay();
      // 4. The agent is killed once more with the link up.
      await waitForAcked(0.85);
      await pair.agent!.kill('SIGKILL');
      await pair.startAgent();
    })();

    await Promise.all([...workers, faults]);
    await Promise.all(senders.map((s) => s.close()));

    const acknowledged = sent.filter((s) => s.code === 'AA');
    expect(acknowledged.length).toBe(TOTAL_MESSAGES);
    expect(backlogWhileRelayDown).toBeGreaterThan(0);

    // The backlog drains with no operator action.
    const status = await pair.waitForDrain();
    expect(status.feeds[0]!.ackedSeq).toBe(status.journal.headSeq);

    const feed = await readWholeFeed(pair.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY);
    // Exactly once: one event per acknowledged control id, nothing else.
    const byControlId = new Map<string, number>();
    for (const event of feed) byControlId.set(event.headers.controlId!, (byControlId.get(event.headers.controlId!) ?? 0) + 1);
    const missing = acknowledged.filter((s) => !byControlId.has(s.message.controlId));
    const duplicated = [...byControlId].filter(([, count]) => count > 1);
    expect({ missing: missing.length, duplicated: duplicated.length, feedEvents: feed.length }).toEqual({
      missing: 0,
      duplicated: 0,
      feedEvents: acknowledged.length,
    });
    // In order: strictly increasing seqs, hence journal order within every stream.
    for (let i = 1; i < feed.length; i++) expect(feed[i]!.seq).toBeGreaterThan(feed[i - 1]!.seq);
    // The feed carries exactly the text that was sent, in the right characters; a message
    // sent as GB18030 is served as UTF-8 and its MSH-18 says so, naming the wire's charset
    // in headers.originalCharset.
    const sentByControlId = new Map(acknowledged.map((s) => [s.message.controlId, s.message]));
    for (const event of feed) {
      const sent = sentByControlId.get(event.headers.controlId!)!;
      expect(event.body).toBe(sent.text.replace(`|CHN|${sent.charset}`, '|CHN|UNICODE UTF-8'));
      expect(event.headers.originalCharset).toBe(sent.charset);
    }

    // The local copy holds the latest version of every record: the last feed event per key.
    const latest = new Map<string, (typeof feed)[number]>();
    for (const event of feed) latest.set(`${event.stream}/${event.key}`, event);
    for (const event of latest.values()) {
      const response = await fetch(`${pair.agentHttp}/v1/records/${event.stream}/${encodeURIComponent(event.key)}`);
      const record = (await response.json()) as { seq: number; body: string };
      expect({ key: `${event.stream}/${event.key}`, seq: record.seq }).toEqual({ key: `${event.stream}/${event.key}`, seq: event.seq });
      expect(record.body).toBe(event.body);
    }

    // ACKs kept coming while the relay was down (and before the agent was killed):
    // report their latencies beside the link-up ones. Messages retransmitted
    // because the agent was killed are left out of both.
    const during = (s: Sent) => relayDown.some((w) => s.ackedAtMs >= w.fromMs && s.ackedAtMs <= w.toMs);
    const firstTry = acknowledged.filter((s) => s.attempts === 1);
    const down = firstTry.filter(during).map((s) => s.latencyMs).sort((a, b) => a - b);
    const up = firstTry.filter((s) => !during(s)).map((s) => s.latencyMs).sort((a, b) => a - b);
    const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
    expect(down.length).toBeGreaterThan(TOTAL_MESSAGES * 0.05);
    console.log(
      `spine: ${acknowledged.length} AA, ${feed.length} in feed, ${latest.size} records; ACK latency link up p50 ${pct(up, 0.5).toFixed(1)} ms p99 ${pct(up, 0.99).toFixed(1)} ms; ` +
        `relay down p50 ${pct(down, 0.5).toFixed(1)} ms p99 ${pct(down, 0.99).toFixed(1)} ms (${down.length} messages); backlog while down ${backlogWhileRelayDown} events`,
    );
  }, 600_000);
});
