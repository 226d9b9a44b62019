// Journals what a relay sent: each inbound event in stream inbound.<channel>,
// deduplicated by its id under the relay's scope, with its delivery row in the
// same transaction (AppendRequest.alsoInTransaction), then wakes the channel's
// engine. The link acknowledges only once accept() resolved: the events are durable.
//
// Failure modes handled:
// 1. A resend after a cut (the relay resends what was unacked): the journal's
//    dedupe returns the earlier seq, no second row, the promise resolves all the same.
// 2. A crash between the journal commit and the wake: the engine loads open rows at start.
// 3. An event for a channel this agent no longer configures: journaled and kept
//    pending (the relay was told of it in an earlier Hello), delivered when the channel returns.
import { inboundStreamName } from '../../protocol/index.js';
import type { JournalWriter } from '../store/index.js';
import type { DeliveryStore } from './delivery-store.js';
import type { InboundEventIn, InboundIntake } from './downlink-ports.js';

/** The journal source recorded on inbound events. */
export const INBOUND_SOURCE = 'downlink';

export interface JournalInboundIntakeOptions {
  journal: JournalWriter;
  store: DeliveryStore;
  /** Called with a channel and its newly journaled event ids once they are durable (its engine's wake). */
  wake: (channel: string, ids: readonly string[]) => void;
}

export class JournalInboundIntake implements InboundIntake {
  constructor(private readonly options: JournalInboundIntakeOptions) {}

  async accept(relay: string, events: readonly InboundEventIn[]): Promise<void> {
    const { journal, store } = this.options;
    // One append per event (each has its own dedupe key); the group commit makes them one transaction and one fsync.
    const results = await Promise.all(
      events.map((event) =>
        journal.append({
          source: INBOUND_SOURCE,
          events: [
            {
              stream: inboundStreamName(event.channel),
              key: event.key,
              op: 'upsert',
              contentType: event.contentType,
              body: event.body,
              headers: {
                inboundId: event.id,
                channel: event.channel,
                vendor: event.vendor,
                idempotencyKey: event.idempotencyKey,
                receivedAtMs: String(event.receivedAtMs),
                expiresAtMs: String(event.expiresAtMs),
                relay,
                channelSeq: String(event.channelSeq),
              },
            },
          ],
          dedupe: { scope: `inbound:${relay}`, id: event.id },
          alsoInTransaction: (seqs) => {
            store.insert({ id: event.id, seq: seqs[0]!, relay, channel: event.channel, key: event.key, receivedAtMs: event.receivedAtMs, expiresAtMs: event.expiresAtMs });
          },
        }),
      ),
    );
    const woken = new Map<string, string[]>();
    events.forEach((event, i) => {
      if (results[i]!.duplicate) return;
      const ids = woken.get(event.channel);
      if (ids) ids.push(event.id);
      else woken.set(event.channel, [event.id]);
    });
    for (const [channel, ids] of woken) this.options.wake(channel, ids);
  }
}
