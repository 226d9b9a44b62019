// The sinks' public surface: the port every delivery into a hospital system plugs into.
export type { InboundSink, SinkDelivery, SinkOutcome } from './inbound-sink.js';
