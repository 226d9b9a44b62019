// Completeness proofs end to end: a real relay and a real agent (real SQLite
// files, real gRPC on 127.0.0.1:0). The agent's windows are verified and signed;
// then faults are injected by direct writes to the relay's SQLite file — one
// event deleted, one body altered, one event copied into a seq the agent never
// sent for the feed — and the agent finds each at its exact seq within the
// comparison bound, resends the missing one (the relay holds it again, the same
// body), and raises one integrity alert with ledger records for the other two.
// An older relay (no "proof-v1") is told apart: the agent says which upgrade is
// missing and replication goes on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import type { FeedStatus } from '../../agent/operations/agent-status.js';
import { startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { readWholeFeed } from '../support/read-feed.js';
import { createHash } from 'node:crypto';
import { feedLeafData, leafHash, verifyInclusion } from '../../protocol/index.js';

interface VendorTreeHead {
  fromSeq: number;
  toSeq: number;
  treeSize: number;
  root: string;
  signedText: string;
  signature: string;
}
interface VendorProof {
  seq: number;
  bodySha256: string;
  leafIndex: number;
  treeSize: number;
  auditPath: string[];
  treeHead: VendorTreeHead;
}

const SECRET = 'completeness-proofs-secret-01';
const VENDOR_KEY = 'completeness-proofs-vendor-key';
const quiet = pino({ level: 'silent' });
/** Windows of 100 seqs (the default is 10,000), a partial one closed after 1.5 s, verified windows re-compared every second (default 60 s). */
const PROOFS = '{ windowSeqs: 100, windowMs: 1500, recheckIntervalMs: 1000, recheckWindows: 10 }';

async function waitFor<T>(what: string, read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('completeness proofs', () => {
  const dir = makeTempDir('wardline-proofs-');
  let relay: RelayHandle;
  let oldRelay: RelayHandle;
  const agents: RunningAgent[] = [];

  const writeRelayConfig = (name: string): string => {
    const file = join(dir.path, `${name}.yaml`);
    writeFileSync(
      file,
      `dataDir: ./${name}-data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
allowPlaintext: true
hospitals: [{ id: proof-hospital, secret: "${SECRET}" }]
vendors: [{ name: vendor, key: "${VENDOR_KEY}", grants: [{ hospital: proof-hospital, feeds: [clinical] }] }]
log: { level: silent }
`,
    );
    return file;
  };

  async function agentOf(name: string, grpcPort: number): Promise<RunningAgent> {
    const file = join(dir.path, `${name}.yaml`);
    writeFileSync(
      file,
      `hospital: { id: proof-hospital }
dataDir: ./${name}-data
http: { listen: "127.0.0.1:0" }
relays: [{ name: cloud, address: "127.0.0.1:${grpcPort}", secret: "${SECRET}", allowPlaintext: true }]
feeds: [{ name: clinical, relay: cloud, streams: [adt] }]
replication: { backoff: { initialMs: 100, maxMs: 500 }, proofs: ${PROOFS} }
log: { level: silent }
`,
    );
    const agent = await startAgent(file, { logger: quiet });
    agents.push(agent);
    return agent;
  }

  async function ingest(agent: RunningAgent, stream: string, rows: number, prefix: string): Promise<number[]> {
    const response = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/ingest/${stream}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: rows }, (_, i) => ({ key: `${prefix}-${i}`, text: `${prefix} row ${i}` }))),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { seqs: number[] }).seqs;
  }

  const clinical = (agent: RunningAgent): FeedStatus => agent.status().feeds.find((f) => f.feed === 'clinical')!;

  beforeAll(async () => {
    relay = await startRelay(writeRelayConfig('relay'), { logger: quiet });
    oldRelay = await startRelay(writeRelayConfig('old-relay'), { logger: quiet, withoutProofs: true });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await relay?.stop();
    await oldRelay?.stop();
    dir.remove();
  });

  it('verifies and signs every window, then finds, locates and handles a deleted, an altered and a forged event', async () => {
    const agent = await agentOf('agent', relay.grpcPort);
    // adt rows with lab rows between them: the lab seqs are positions the feed never sends.
    const adtSeqs: number[] = [];
    const labSeqs: number[] = [];
    for (let round = 0; round < 5; round++) {
      adtSeqs.push(...(await ingest(agent, 'adt', 50, `adt${round}`)));
      labSeqs.push(...(await ingest(agent, 'lab', 5, `lab${round}`)));
    }
    const head = labSeqs.at(-1)!;
    const verified = await waitFor('every window verified', () => clinical(agent).proofs!, (p) => p.verifiedThroughSeq >= head);
    expect(verified).toMatchObject({ state: 'running', incidents: 0, repaired: 0, problem: null });
    expect(verified.windows).toBe(3); // [1, 100], [101, 200], and [201, 275] closed by windowMs

    // The relay signed a tree head per window. A vendor fetches them, the relay's key and an
    // event's inclusion proof, checks the head with Debian's minisign and the path with RFC 9162.
    const relayDb = new Database(join(dir.path, 'relay-data', 'relay.db'));
    try {
      const relayHttp = `http://127.0.0.1:${relay.httpPort}`;
      const asVendor = { headers: { authorization: `Bearer ${VENDOR_KEY}` } };
      const { treeHeads } = (await (await fetch(`${relayHttp}/v1/feeds/clinical/tree-heads`, asVendor)).json()) as { treeHeads: VendorTreeHead[] };
      expect(treeHeads.map((h) => [h.fromSeq, h.toSeq])).toEqual([[1, 100], [101, 200], [201, 275]]);
      expect(treeHeads.reduce((n, h) => n + h.treeSize, 0)).toBe(adtSeqs.length);
      const keyText = await (await fetch(`${relayHttp}/v1/signing-key`)).text();
      writeFileSync(join(dir.path, 'relay.pub'), keyText);
      const proofOf = async (seq: number): Promise<VendorProof> => (await (await fetch(`${relayHttp}/v1/feeds/clinical/events/${seq}/proof`, asVendor)).json()) as VendorProof;
      const checkProof = (proof: VendorProof, body: Buffer): boolean =>
        verifyInclusion(
          leafHash(feedLeafData(proof.seq, createHash('sha256').update(body).digest())),
          proof.leafIndex,
          proof.treeSize,
          proof.auditPath.map((h) => Buffer.from(h, 'hex')),
          Buffer.from(proof.treeHead.root, 'hex'),
        );
      // The vendor's copy of an event: what the feed served (its stored body bytes).
      expect((await readWholeFeed(relayHttp, 'clinical', VENDOR_KEY)).map((e) => e.seq)).toEqual(adtSeqs);
      const probe = { seq: adtSeqs[120]!, body: (relayDb.prepare("SELECT body FROM feed_events WHERE feed = 'clinical' AND seq = ?").get(adtSeqs[120]) as { body: Buffer }).body };
      const proof = await proofOf(probe.seq);
      expect(proof.treeHead).toEqual(treeHeads[1]);
      expect(proof.bodySha256).toBe(createHash('sha256').update(probe.body).digest('hex'));
      expect(checkProof(proof, probe.body)).toBe(true);
      expect(checkProof(proof, Buffer.from('{"text":"something else"}'))).toBe(false);
      writeFileSync(join(dir.path, 'head.txt'), proof.treeHead.signedText);
      writeFileSync(join(dir.path, 'head.txt.minisig'), proof.treeHead.signature);
      execFileSync('minisign', ['-V', '-q', '-m', join(dir.path, 'head.txt'), '-p', join(dir.path, 'relay.pub')]);
      writeFileSync(join(dir.path, 'head.txt'), proof.treeHead.signedText.replace('tree-size', 'tree-size 1'));
      expect(() => execFileSync('minisign', ['-V', '-q', '-m', join(dir.path, 'head.txt'), '-p', join(dir.path, 'relay.pub')], { stdio: 'pipe' })).toThrow();
      expect((await fetch(`${relayHttp}/v1/feeds/clinical/events/${labSeqs[0]}/proof`, asVendor)).status).toBe(404);
      expect((await fetch(`${relayHttp}/v1/feeds/clinical/tree-heads`)).status).toBe(401);
      // The relay's status shows each feed's newest signed tree head; the agent's, how far it is verified.
      const relayFeed = (await relay.status()).hospitals.find((h) => h.id === 'proof-hospital')!.feeds.find((f) => f.feed === 'clinical')!;
      expect(relayFeed.lastTreeHead).toMatchObject({ fromSeq: 201, toSeq: 275, root: treeHeads[2]!.root });
      const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
      expect(metrics).toContain(`wardline_agent_feed_verified_through_seq{feed="clinical",relay="cloud"} ${head}`);

      // The faults, by direct writes to the relay's storage.
      const deleted = adtSeqs[10]!; // window [1, 100]
      const altered = adtSeqs[120]!; // window [101, 200]
      const forged = labSeqs.find((s) => s > 100 && s <= 200)!; // a seq the agent never sent for the feed
      const row = (seq: number) => relayDb.prepare("SELECT * FROM feed_events WHERE hospital = 'proof-hospital' AND feed = 'clinical' AND seq = ?").get(seq) as Record<string, unknown> | undefined;
      const original = row(deleted)!;
      relayDb.prepare("DELETE FROM feed_events WHERE hospital = 'proof-hospital' AND feed = 'clinical' AND seq = ?").run(deleted);
      relayDb.prepare("UPDATE feed_events SET body = ? WHERE hospital = 'proof-hospital' AND feed = 'clinical' AND seq = ?").run(Buffer.from('{"text":"tampered"}'), altered);
      relayDb
        .prepare(
          `INSERT INTO feed_events (hospital, feed, seq, stream, key, op, ts_ms, source, content_type, body, headers, received_at_ms)
           SELECT hospital, feed, ?, stream, key, op, ts_ms, source, content_type, body, headers, received_at_ms FROM feed_events
            WHERE hospital = 'proof-hospital' AND feed = 'clinical' AND seq = ?`,
        )
        .run(forged, adtSeqs[60]!);
      const injectedAt = Date.now();
      // The alteration is visible to a vendor at once: the event's proof no longer reaches the signed root.
      const tampered = await proofOf(altered);
      expect(checkProof(tampered, probe.body)).toBe(false);

      const found = await waitFor(
        'the faults found and the deleted event resent',
        () => ({ proofs: clinical(agent).proofs!, restored: row(deleted) }),
        (v) => v.proofs.incidents >= 2 && v.restored !== undefined,
      );
      const detectionMs = Date.now() - injectedAt;
      console.log(`completeness proofs: faults found and repaired ${detectionMs} ms after the injection (re-check interval 1000 ms)`);
      expect(detectionMs).toBeLessThan(60_000);
      // The missing event is back, with the body the agent sent; nothing else moved.
      expect(Buffer.from(found.restored!.body as Buffer).equals(original.body as Buffer)).toBe(true);
      expect(found.proofs.repaired).toBe(1);
      // The repair left the hospital like any batch: recorded in the egress ledger before it was sent.
      const repairs = [...agent.ledger.records()].filter((r) => 'type' in r && r.type === 'batch' && r.details.repair === true);
      expect(repairs.map((r) => 'details' in r && [r.feed, r.details.firstSeq, r.details.lastSeq, r.details.events])).toEqual([['clinical', deleted, deleted, 1]]);
      // The repair's ack went to the repair, not to the feed's window: the stream never broke.
      expect(agent.status().links[0]).toMatchObject({ state: 'streaming', reconnects: 0 });

      // Each fault at its exact seq, each within ⌈log₂ N⌉ + 1 comparisons (N: the window's leaves).
      const searches = found.proofs.recentSearches;
      const faults = searches.flatMap((s) => s.faults.map((f) => [f.seq, f.kind]));
      expect(faults).toEqual(expect.arrayContaining([[deleted, 'missing-at-relay'], [altered, 'altered'], [forged, 'extra-at-relay']]));
      for (const search of searches) {
        const leaves = adtSeqs.filter((s) => s >= search.fromSeq && s <= search.toSeq).length;
        const bound = search.faults.length * (Math.ceil(Math.log2(leaves)) + 1);
        console.log(`completeness proofs: window [${search.fromSeq}, ${search.toSeq}] (${leaves} leaves): ${search.faults.length} fault(s) in ${search.comparisons} comparisons (bound ${bound})`);
        expect(search.comparisons).toBeLessThanOrEqual(bound);
      }

      // The first window is verified again after the repair; the second holds the incidents, so "verified through" stops before it.
      const after = await waitFor('the repaired window verified again', () => clinical(agent).proofs!, (p) => p.verifiedThroughSeq === 100);
      expect(after.incidents).toBe(2);

      // One alert for the feed, and one egress-ledger record per incident.
      const alerts = await waitFor('the integrity alert', () => agent.status().alerts?.recent ?? [], (a) => a.some((r) => r.rule === 'feed-proof'));
      expect(alerts.filter((a) => a.rule === 'feed-proof' && a.level > 0)).toHaveLength(1);
      const records = agent.ledger.status(50).recentActions.filter((r) => r.type === 'integrity-incident');
      expect(records.map((r) => [r.feed, r.details.seq, r.details.kind]).sort()).toEqual(
        [
          ['clinical', altered, 'altered'],
          ['clinical', forged, 'extra-at-relay'],
        ].sort(),
      );
      // Found again at every re-check, still one alert and two records.
      await new Promise((r) => setTimeout(r, 2500));
      expect(agent.ledger.status(50).recentActions.filter((r) => r.type === 'integrity-incident')).toHaveLength(2);
      expect((agent.status().alerts?.recent ?? []).filter((a) => a.rule === 'feed-proof' && a.level > 0)).toHaveLength(1);
    } finally {
      relayDb.close();
    }
  }, 90_000);

  it('tells a relay without proofs apart: says which upgrade is missing, and replication goes on', async () => {
    const agent = await agentOf('old-agent', oldRelay.grpcPort);
    const seqs = await ingest(agent, 'adt', 20, 'old');
    const feed = await waitFor('the events acked by the older relay', () => clinical(agent), (f) => f.ackedSeq >= seqs.at(-1)! && f.proofs?.state === 'unavailable');
    expect(feed.proofs!.problem).toMatch(/does not list "proof-v1".*upgrade the relay/);
    expect(feed.proofs!.verifiedThroughSeq).toBe(0);
    const response = await fetch(`http://127.0.0.1:${oldRelay.httpPort}/v1/feeds/clinical/events?after=0&limit=100&hospital=proof-hospital`, { headers: { authorization: `Bearer ${VENDOR_KEY}` } });
    expect((await response.text()).trim().split('\n')).toHaveLength(20);
  }, 60_000);
});
