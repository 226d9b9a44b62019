// The downlink: what others may use. The link (inbound-link.ts) and the receipt
// outbox belong to the replication stream's side; the ports are the seams
// between the link, the intake, the delivery engine and the sinks.
export type { InboundEventIn, InboundIntake, ReceiptOutbox } from './downlink-ports.js';
export { InboundLink, type ChannelBacklogReport, type InboundLinkOptions } from './inbound-link.js';
export { SqliteReceiptOutbox, type PendingReceipt } from './receipt-outbox.js';
