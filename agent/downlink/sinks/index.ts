// The downlink's sinks: where inbound events are delivered into the hospital's
// systems (HL7 v2 over MLLP, a signed webhook, an inbox table), each behind the
// InboundSink port; createSink chooses the kind from a channel's `sink:` config.
export type { InboundSink, SinkDelivery, SinkOutcome } from './inbound-sink.js';
export {
  DEFAULT_INBOX_TABLE,
  DEFAULT_MLLP_ACK_TIMEOUT_MS,
  DEFAULT_MLLP_SINK_CONNECTIONS,
  DEFAULT_RECEIVING_APPLICATION,
  DEFAULT_SINK_CONNECT_TIMEOUT_MS,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  HL7_SINK_MESSAGES,
  InboxSinkConfigSchema,
  MllpSinkConfigSchema,
  SinkConfigSchema,
  WebhookSinkConfigSchema,
  sinkRequirements,
  type InboxSinkConfig,
  type MllpSinkConfig,
  type SinkConfig,
  type SinkRequirements,
  type WebhookSinkConfig,
} from './sink-config.js';
export { loadSinkSecrets, type SinkSecrets } from './sink-secrets.js';
export { createSink, type SinkDeps } from './create-sink.js';
export type { SinkLogger } from './sink-logger.js';
export { SinkSetupError, SinkUnavailableError } from './errors.js';
export { INBOX_STATUSES } from './inbox-sink.js';
export { WEBHOOK_EVENT_TYPE, type WebhookPayload } from './webhook-sink.js';
