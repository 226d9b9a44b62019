// The relay's side of the completeness proofs over a raw gRPC client (the
// contract an agent of any language relies on): Welcome lists "proof-v1"; a
// ProofRequest is answered with the RFC 9162 root over the stored bodies, the
// leaves when listed, a signed tree head only when a closed window agrees;
// refusals carry `error` and leave the stream open; a repair batch fills only
// what is missing below the mark and is acked with the mark unchanged.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { feedLeafData, leafHash, merkleRoot, parseTreeHeadText, pb, PROOF_FEATURE, type RelayMessage } from '../../protocol/index.js';
import { parsePublicKey, verifyMinisign } from '../../runtime/index.js';
import { connectAgent, makeBatch, makeEvent, TestRelay } from './relay-harness.js';

const sha = (body: Buffer): Buffer => createHash('sha256').update(body).digest();
const rootOf = (seqs: number[]): Buffer => merkleRoot(seqs.map((seq) => leafHash(feedLeafData(seq, sha(makeEvent(seq).body)))));

describe('relay: completeness proofs', () => {
  const relay = new TestRelay();
  beforeAll(() => relay.start());
  afterAll(() => relay.relay?.stop());

  async function ask(stream: Awaited<ReturnType<typeof connectAgent>>['stream'], request: Parameters<typeof pb.ProofRequest.create>[0]): Promise<NonNullable<RelayMessage['proofAnswer']>> {
    stream.call.write(pb.AgentMessage.create({ proofRequest: request }));
    const answer = await stream.next();
    expect(answer.body).toBe('proofAnswer');
    return answer.proofAnswer!;
  }

  it('answers roots, leaves and signed heads, refuses what it cannot answer, and fills a repair', async () => {
    const { stream, welcome } = await connectAgent(relay, 'h1', ['adt']);
    expect(welcome.features).toContain(PROOF_FEATURE);
    expect((await stream.exchange(makeBatch('adt', 1, 20))).body).toBe('ack');

    const window = Array.from({ length: 20 }, (_, i) => i + 1);
    const root = rootOf(window);
    const plain = await ask(stream, { requestId: 1, feed: 'adt', fromSeq: 1, toSeq: 20 });
    expect(plain).toMatchObject({ requestId: 1, leafCount: 20, error: '' });
    expect(Buffer.from(plain.root!)).toEqual(root);
    expect(plain.treeHead ?? null).toBeNull();

    const listed = await ask(stream, { requestId: 2, feed: 'adt', fromSeq: 5, toSeq: 6, listLeaves: true });
    expect(listed.leaves!.map((l) => [Number(l.seq), Buffer.from(l.bodySha256!).toString('hex')])).toEqual([5, 6].map((s) => [s, sha(makeEvent(s).body).toString('hex')]));

    // A close whose root differs is answered, not signed; one that agrees is signed with the relay's key.
    expect((await ask(stream, { requestId: 3, feed: 'adt', fromSeq: 1, toSeq: 20, closeWindow: true, leafCount: 20, root: Buffer.alloc(32) })).treeHead ?? null).toBeNull();
    const closed = await ask(stream, { requestId: 4, feed: 'adt', fromSeq: 1, toSeq: 20, closeWindow: true, leafCount: 20, root });
    const head = closed.treeHead!;
    expect(parseTreeHeadText(head.signedText!)).toMatchObject({ hospital: 'h1', feed: 'adt', fromSeq: 1, toSeq: 20, treeSize: 20, root });
    const publicKey = parsePublicKey(readFileSync(join(relay.dataDir, 'relay-signing.pub'), 'utf8'));
    expect(() => verifyMinisign(Buffer.from(head.signedText!), head.signature!, publicKey)).not.toThrow();

    // Refusals: past the mark, a feed not declared, too many leaves to list; the stream stays open.
    expect((await ask(stream, { requestId: 5, feed: 'adt', fromSeq: 1, toSeq: 21 })).error).toMatch(/runs past .*mark 20/);
    expect((await ask(stream, { requestId: 6, feed: 'lab', fromSeq: 1, toSeq: 1 })).error).toMatch(/not declared/);
    expect((await stream.exchange(makeBatch('adt', 21, 400))).body).toBe('ack');
    expect((await ask(stream, { requestId: 7, feed: 'adt', fromSeq: 1, toSeq: 400, listLeaves: true })).error).toMatch(/more than the 256/);

    // A deleted event is seen, and a repair brings it back without moving the mark.
    const db = new Database(join(relay.dataDir, 'relay.db'));
    db.prepare("DELETE FROM feed_events WHERE hospital = 'h1' AND feed = 'adt' AND seq = 7").run();
    db.close();
    expect((await ask(stream, { requestId: 8, feed: 'adt', fromSeq: 1, toSeq: 20 })).leafCount).toBe(19);
    const repair = { ...makeBatch('adt', 6, 8, [makeEvent(6, { body: Buffer.from('not the original') }), makeEvent(7), makeEvent(8)]), repair: true };
    const ack = await stream.exchange(repair);
    expect(ack.ack).toMatchObject({ feed: 'adt', highWaterSeq: 400 });
    const repaired = await ask(stream, { requestId: 9, feed: 'adt', fromSeq: 1, toSeq: 20 });
    expect(Buffer.from(repaired.root!)).toEqual(root); // seq 6 kept its stored body
    expect((await stream.exchange(makeBatch('adt', 401, 401))).ack).toMatchObject({ highWaterSeq: 401 });
    stream.end();
  });
});
