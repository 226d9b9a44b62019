// The relay's side of purge over the wire protocol itself (raw gRPC, no agent
// code): Welcome lists purge-v1; a Purge is answered with a receipt that
// verifies against the relay's public key; its batches are refused as a revoked
// feed's; a repeat answers the kept receipt; an unknown feed is refused in
// Purged.error with nothing deleted, and the stream goes on.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { pb, PURGE_FEATURE } from '../../protocol/index.js';
import { parsePublicKey, verifyMinisign } from '../../runtime/index.js';
import { TestRelay, connectAgent, makeBatch, makeEvents } from './relay-harness.js';

describe('relay: Purge over the replication stream', () => {
  let relay: TestRelay;

  beforeEach(async () => {
    relay = new TestRelay();
    await relay.start();
  });
  afterEach(async () => {
    await relay.close();
  });

  it('purges with a signed receipt, refuses the feed\'s batches after, answers a repeat and an unknown feed clearly', async () => {
    const { stream, welcome } = await connectAgent(relay, 'h1', ['adt', 'results']);
    expect(welcome.features).toContain(PURGE_FEATURE);
    expect((await stream.exchange(makeBatch('adt', 1, 50, makeEvents(1, 50)))).body).toBe('ack');
    expect((await stream.exchange(makeBatch('results', 1, 5, makeEvents(1, 5)))).body).toBe('ack');

    stream.call.write(pb.AgentMessage.create({ purge: { feed: 'adt', reason: 'hospital request', requestedBy: 'ops', ledgerHead: Buffer.alloc(32, 7), ledgerIndex: 60 } }));
    const answer = await stream.next(30_000);
    expect(answer.body).toBe('purged');
    expect(answer.purged!.error ?? '').toBe('');
    const receipt = JSON.parse(answer.purged!.receipt!);
    expect(receipt).toMatchObject({ format: 'wardline-purge-receipt-v1', hospital: 'h1', scope: 'feed', reason: 'hospital request', requestedBy: 'hospital h1, agent h1-agent, ops' });
    expect(receipt.feeds[0]).toMatchObject({ feed: 'adt', events: 50, eventsDeleted: 50, treeSize: 50, highWaterSeq: 50 });
    const pub = parsePublicKey(readFileSync(join(relay.dataDir, 'relay-signing.pub'), 'utf8'));
    expect(verifyMinisign(Buffer.from(answer.purged!.receipt!), answer.purged!.receiptSignature!, pub).trustedComment).toContain('hospital=h1 feeds=adt');

    const refused = await stream.exchange(makeBatch('adt', 51, 60, makeEvents(51, 60)));
    expect(refused.body).toBe('nack');
    expect(refused.nack!.reason).toBe(pb.NackReason.NACK_REASON_REVOKED);

    stream.call.write(pb.AgentMessage.create({ purge: { feed: 'adt' } }));
    expect((await stream.next(30_000)).purged!.receipt).toBe(answer.purged!.receipt);

    stream.call.write(pb.AgentMessage.create({ purge: { feed: 'lab' } }));
    const unknown = await stream.next(30_000);
    expect(unknown.purged!.error).toMatch(/^WL_PURGE_UNKNOWN_FEED: hospital "h1" has no feed "lab" on this relay; nothing was deleted — it holds "adt", "results"/);
    // The stream goes on for the other feeds.
    expect((await stream.exchange(makeBatch('results', 6, 10, makeEvents(6, 10)))).body).toBe('ack');
    stream.end();
  });
});
