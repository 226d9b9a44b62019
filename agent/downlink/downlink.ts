// The agent's downlink on the delivery side: the delivery store, the intake and
// one engine per configured channel with its sink. agent/main.ts builds it once
// from the `inbound:` section and hands the intake, the outbox and each relay's
// declarations to that relay's Replicator; the HTTP routes and status read it.
import type { InboundChannelDeclaration } from '../../protocol/index.js';
import type { Timers } from '../../runtime/index.js';
import type { JournalWriter, SqliteDatabase } from '../store/index.js';
import { DeliveryEngine, type ChannelDeliveryStatus, type DeliveryEngineLogger, type DeliveryObservation } from './delivery-engine.js';
import { DeliveryStore } from './delivery-store.js';
import type { ReceiptOutbox } from './downlink-ports.js';
import { InboundControlError } from './errors.js';
import { channelDeclaration, deliveryPolicyOf, type InboundChannelConfig, type RequiredFieldsOf } from './inbound-config.js';
import { JournalInboundIntake } from './inbound-intake.js';
import type { InboundSink } from './sinks/index.js';

export interface DownlinkOptions {
  channels: readonly InboundChannelConfig[];
  db: SqliteDatabase;
  journal: JournalWriter;
  outbox: ReceiptOutbox;
  /** Builds a channel's sink from its config (D's createSink). */
  createSink: (channel: InboundChannelConfig) => InboundSink;
  /** What a sink's mapping needs in a JSON body; default the sinks' sinkRequirements. */
  requiredFields?: RequiredFieldsOf;
  log: DeliveryEngineLogger;
  clock?: () => number;
  timers?: Timers;
  random?: () => number;
  observe?: (observation: DeliveryObservation) => void;
}

/** A quarantined event as status lists it (no key, no body). */
export interface QuarantinedEvent {
  id: string;
  channel: string;
  reason: string;
  code: string;
  attempts: number;
  /** When it was quarantined (its row's last change). */
  sinceMs: number;
}

export interface DownlinkStatus {
  channels: ChannelDeliveryStatus[];
  quarantined: QuarantinedEvent[];
}

export class Downlink {
  readonly store: DeliveryStore;
  readonly intake: JournalInboundIntake;
  private readonly engines = new Map<string, DeliveryEngine>();
  private readonly sinks: InboundSink[] = [];
  private readonly configs: readonly InboundChannelConfig[];
  private readonly requirements: RequiredFieldsOf | undefined;

  constructor(options: DownlinkOptions) {
    this.configs = options.channels;
    this.requirements = options.requiredFields;
    this.store = new DeliveryStore(options.db, options.clock);
    for (const channel of options.channels) {
      const sink = options.createSink(channel);
      this.sinks.push(sink);
      this.engines.set(
        channel.channel,
        new DeliveryEngine({
          channel: channel.channel,
          relay: channel.relay,
          sink,
          store: this.store,
          journal: options.journal,
          outbox: options.outbox,
          policy: deliveryPolicyOf(channel),
          log: options.log,
          clock: options.clock,
          timers: options.timers,
          random: options.random,
          observe: options.observe,
        }),
      );
    }
    this.intake = new JournalInboundIntake({ journal: options.journal, store: this.store, wake: (channel, ids) => this.engines.get(channel)?.wake(ids) });
  }

  /** The relays that have inbound channels (each needs a replicator, feeds or not). */
  get relays(): string[] {
    return [...new Set(this.configs.map((c) => c.relay))];
  }

  /** What Hello declares to `relay`. */
  declarations(relay: string): InboundChannelDeclaration[] {
    return this.configs.filter((c) => c.relay === relay).map((c) => channelDeclaration(c, this.requirements));
  }

  start(): void {
    for (const engine of this.engines.values()) engine.start();
  }

  engine(channel: string): DeliveryEngine {
    const engine = this.engines.get(channel);
    if (!engine) throw new InboundControlError(`no inbound channel named "${channel}" is configured`, 'unknown-channel', channel);
    return engine;
  }

  /** The engine of the channel an event belongs to. */
  engineOfEvent(id: string): DeliveryEngine {
    const row = this.store.get(id);
    if (!row) throw new InboundControlError(`no inbound event ${id} is held by this agent`, 'unknown-event', id);
    const engine = this.engines.get(row.channel);
    if (!engine) throw new InboundControlError(`inbound event ${id} belongs to channel "${row.channel}", which is no longer configured`, 'unknown-channel', row.channel);
    return engine;
  }

  status(): DownlinkStatus {
    return {
      channels: [...this.engines.values()].map((e) => e.status()),
      quarantined: this.store.quarantined().map((row) => ({
        id: row.id,
        channel: row.channel,
        reason: row.lastReason,
        code: row.lastCode,
        attempts: row.attempts,
        sinceMs: row.updatedAtMs,
      })),
    };
  }

  /** The journal seq of the oldest inbound event not yet final: its body must stay in the journal until it is (JournalTrimmerOptions.heldFromSeq). */
  lowestOpenSeq(): number | undefined {
    return this.store.lowestOpenSeq();
  }

  /** Stops every engine (the attempts under way are written), then closes the sinks. */
  async close(): Promise<void> {
    await Promise.all([...this.engines.values()].map((e) => e.close()));
    await Promise.allSettled(this.sinks.map((s) => s.close()));
  }
}
