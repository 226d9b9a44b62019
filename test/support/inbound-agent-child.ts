// A minimal agent process for the downlink's SIGKILL test: the real journal,
// intake, receipt outbox, egress ledger and replicator over gRPC, on agent.db in
// the directory given. It answers every inbound event with an "accepted" receipt
// journaled right after the event (as the delivery engine would after its sink),
// so receipts are in flight whenever the test kills it; at start it answers what
// it journaled before and had not answered yet.
// Usage: node dist/test/support/inbound-agent-child.js <dataDir> <relay host:port> <secret>
import { join } from 'node:path';
import { receiptStreamName } from '../../protocol/index.js';
import { EgressLedger } from '../../agent/audit/index.js';
import { DeliveryStore, JournalInboundIntake, SqliteReceiptOutbox, type InboundEventIn } from '../../agent/downlink/index.js';
import { Replicator } from '../../agent/replication/index.js';
import { grpcTestTransport, REPLICATOR_TEST_TUNING } from './replicator-test-tuning.js';
import { FeedAcks, Journal, openAgentDatabase } from '../../agent/store/index.js';

const [dataDir, address, secret] = process.argv.slice(2);
if (!dataDir || !address || secret === undefined) throw new Error('usage: inbound-agent-child <dataDir> <relay host:port> <secret>');

const db = openAgentDatabase(join(dataDir, 'agent.db'));
const journal = new Journal(db);
const outbox = new SqliteReceiptOutbox(db);
const ledger = new EgressLedger(db);
const intake = new JournalInboundIntake({ journal, store: new DeliveryStore(db), wake: () => {} });
const channel = { name: 'bookings', defaultTtlMs: 3_600_000, maxTtlMs: 86_400_000, maxBodyBytes: 65_536, contentTypes: ['json' as const], keyPath: '$.patient.id', requiredFields: [] };

const answer = async (events: readonly InboundEventIn[]): Promise<void> => {
  for (const event of events) {
    const receipt = { id: event.id, channel: event.channel, outcome: 'accepted' as const, final: true, code: 'AA', reason: '', reference: '', attempts: 1, decidedAtMs: Date.now() };
    await journal.append({
      source: 'downlink',
      events: [{ stream: receiptStreamName(event.channel), key: event.id, op: 'upsert', contentType: 'json', body: Buffer.from(JSON.stringify(receipt)), headers: {} }],
      dedupe: { scope: 'inbound-receipt', id: `${event.id}/accepted/1` },
      alsoInTransaction: () => outbox.enqueue('cloud', receipt),
    });
  }
};

const replicator = new Replicator({
  relayName: 'cloud',
  transport: grpcTestTransport(address),
  journal,
  feedAcks: new FeedAcks(db),
  feeds: [],
  hello: { hospitalId: 'h1', agentId: 'inbound-child', agentVersion: '0.0.0-test', secret },
  ...REPLICATOR_TEST_TUNING,
  egress: ledger,
  downlink: {
    channels: [channel],
    intake: {
      accept: async (relay, events) => {
        await intake.accept(relay, events);
        // Not awaited by the ack: receipts follow the events, as they do after a sink.
        void answer(events);
      },
    },
    outbox,
    ledger,
  },
});
// As the delivery engine does from its open rows at start: an event journaled
// before a kill whose receipt was not yet journaled is answered now (a repeat is
// deduplicated by the receipt's key).
const journaled = (db.prepare("SELECT headers FROM journal WHERE stream = 'inbound.bookings' ORDER BY seq").all() as { headers: string }[]).map(
  (r) => JSON.parse(r.headers) as { inboundId: string; channel: string },
);
void answer(journaled.map((h) => ({ id: h.inboundId, channel: h.channel }) as InboundEventIn)).then(() => replicator.start());
process.on('SIGTERM', () => void replicator.stop().then(() => (db.close(), process.exit(0))));
