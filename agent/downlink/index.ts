// The downlink's public surface: what the composition root, the HTTP routes and
// operations may use. Inbound events from a relay are journaled (intake), delivered
// per channel into the hospital's system (engine, sink) and answered with receipts (outbox).
export type { InboundEventIn, InboundIntake, ReceiptOutbox } from './downlink-ports.js';
export type { InboundSink, SinkDelivery, SinkOutcome } from './sinks/index.js';
export {
  InboundConfigSchema,
  InboundChannelConfigSchema,
  channelDeclaration,
  deliveryPolicyOf,
  inboundIssues,
  DEFAULT_INBOUND_CONCURRENCY,
  DEFAULT_QUARANTINE_AFTER,
  DEFAULT_RETRY_INITIAL_MS,
  DEFAULT_RETRY_MAX_MS,
  DEFAULT_SETTLE_INTERVAL_MS,
  type DeliveryPolicy,
  type InboundChannelConfig,
  type InboundConfig,
  type InboundSinkConfig,
  type RequiredFieldsOf,
} from './inbound-config.js';
export { DeliveryStore, DELIVERY_STATES, OPEN_STATES, type DeliveryRow, type DeliveryState, type ChannelDeliveryCounts } from './delivery-store.js';
export { JournalInboundIntake, INBOUND_SOURCE } from './inbound-intake.js';
export { DeliveryEngine, type ChannelDeliveryStatus, type DeliveryEngineLogger, type DeliveryObservation, type SinkState } from './delivery-engine.js';
export { KeyQueues, headsToStart, type QueuedEvent } from './key-queues.js';
export { decideAfterAttempt, retryDelayMs, RETRY_JITTER, type RetryDecision, type RetryPolicy } from './retry-decision.js';
export { Downlink, type DownlinkOptions, type DownlinkStatus, type QuarantinedEvent } from './downlink.js';
export { createSink, loadSinkSecrets, type SinkSecrets } from './sinks/index.js';
export { InboundControlError, InboundEventLostError, type InboundControlProblem } from './errors.js';
// The link's side (the replication stream): deliveries in, receipts out.
export { InboundLink, type ChannelBacklogReport, type InboundLinkOptions } from './inbound-link.js';
export { SqliteReceiptOutbox, type PendingReceipt } from './receipt-outbox.js';
