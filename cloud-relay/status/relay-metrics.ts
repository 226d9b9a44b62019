// Prometheus metrics of one relay, in a registry of its own (nothing global, so
// several relays can run in one process, as in tests). Labels carry hospital
// ids, result names and error codes only — never anything from an event. The
// process's and Node's own metrics keep their stock names (`process_*`,
// `nodejs_*`), so the stock Node.js dashboards work unchanged.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { BatchDecisionKind } from '../../protocol/index.js';

/** How a batch ended: a decision, or `rejected` when it ended its stream with an error. */
export type BatchResult = Exclude<BatchDecisionKind, 'invalid'> | 'rejected';

/** What `wardline_relay_build_info` carries as labels. */
export interface RelayBuildInfo {
  version: string;
  protocolVersion: number;
}

export class RelayMetrics {
  readonly registry = new Registry();

  /** With `build`, `wardline_relay_build_info` and the process's metrics are exported too (the running relay; tests may leave them out). */
  constructor(build?: RelayBuildInfo) {
    if (!build) return;
    collectDefaultMetrics({ register: this.registry });
    const info = new Gauge({ name: 'wardline_relay_build_info', help: 'Always 1; the labels say which release runs (version, protocol_version, nodejs)', labelNames: ['version', 'protocol_version', 'nodejs'], registers: [this.registry] });
    info.set({ version: build.version, protocol_version: String(build.protocolVersion), nodejs: process.version }, 1);
  }

  /** Batches received, by outcome. */
  readonly batches = new Counter({
    name: 'wardline_relay_batches_total',
    help: 'Batches received from agents, by result (append, overlap, duplicate, gap, revoked, rejected).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Events newly stored (resent events are not counted twice). */
  readonly eventsStored = new Counter({
    name: 'wardline_relay_events_stored_total',
    help: 'Events durably stored, by hospital.',
    labelNames: ['hospital'] as const,
    registers: [this.registry],
  });

  /** Compressed payload bytes received. */
  readonly batchBytes = new Counter({
    name: 'wardline_relay_batch_bytes_total',
    help: 'Compressed batch payload bytes received from agents, by hospital.',
    labelNames: ['hospital'] as const,
    registers: [this.registry],
  });

  /** Agent streams past Hello. */
  readonly connectedAgents = new Gauge({
    name: 'wardline_relay_connected_agents',
    help: 'Agent replication streams currently open (past Hello).',
    registers: [this.registry],
  });

  /** Streams (agent or vendor) ended by an error, by stable error code. */
  readonly streamErrors = new Counter({
    name: 'wardline_relay_stream_errors_total',
    help: 'gRPC streams ended with an error, by Wardline error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  /** Events handed to vendors. */
  readonly eventsServed = new Counter({
    name: 'wardline_relay_feed_events_served_total',
    help: 'Feed events sent to vendors, by API (http, grpc).',
    labelNames: ['api'] as const,
    registers: [this.registry],
  });

  /** Vendor HTTP requests, by status code. */
  readonly httpRequests = new Counter({
    name: 'wardline_relay_http_requests_total',
    help: 'Relay HTTP requests, by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  /** Chunk bytes agents sent in BlobParts and the relay took (written at the right offset). */
  readonly blobPartBytes = new Counter({
    name: 'wardline_relay_blob_part_bytes_total',
    help: 'Imaging chunk bytes received in blob parts and written, by hospital.',
    labelNames: ['hospital'] as const,
    registers: [this.registry],
  });

  /** Chunks verified and stored, or discarded because their SHA-256 did not match. */
  readonly blobChunks = new Counter({
    name: 'wardline_relay_blob_chunks_total',
    help: 'Imaging chunks completed, by result (stored, corrupt).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Bytes of offered instances the relay already held (not sent again). */
  readonly blobDedupedBytes = new Counter({
    name: 'wardline_relay_blob_deduped_bytes_total',
    help: 'Bytes of offered imaging instances whose chunks the relay already held (never sent again), by hospital.',
    labelNames: ['hospital'] as const,
    registers: [this.registry],
  });

  /** Inbound events on agents' streams, by what happened to them. */
  readonly inboundEvents = new Counter({
    name: 'wardline_relay_inbound_events_total',
    help: 'Inbound events on agent streams, by result (sent: first time on a stream; resent: again after a cut; acked: journaled by the agent).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Receipts from agents newly stored (a resend is not counted twice), by outcome. */
  readonly inboundReceipts = new Counter({
    name: 'wardline_relay_inbound_receipts_total',
    help: 'Receipts of inbound events stored from agents, by outcome (accepted, refused, expired, quarantined).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
}
