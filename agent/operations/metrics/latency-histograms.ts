// The agent's three latency histograms: how long a sender waits for its HL7 ACK,
// how long a journal transaction (with its fsync) takes, and how long the relay
// takes to acknowledge a batch. The data path is handed the observe functions
// (`observeAckLatency` in the MLLP listener's options, `observeCommit` in the
// journal's, `observeRoundTrip` in the replicator's) and never imports this file.
//
// Buckets are in seconds and sized for milliseconds, where these live:
//  - ACK: one commit (an fsync, 1–10 ms on SSD, 10–50 ms on a busy virtual disk)
//    plus the pipeline's wait; interface engines give up after 5–30 s (Mirth's
//    default response timeout is 5 s), so the top buckets are 5 and 10 s.
//  - Commit: a group commit is one fsync; under 1 ms on NVMe, a few ms on SSD,
//    tens on spinning or shared storage; 1 s means the disk is in trouble.
//  - Round trip: the WAN (5–100 ms across a province) plus the relay's own
//    commit; the agent's clock is in ms, so nothing finer than 5 ms; the top
//    bucket is the ack timeout's order of magnitude (30 s).
import { Histogram, type Registry } from 'prom-client';

/** Seconds; see above for why. */
export const ACK_LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const COMMIT_DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
export const ROUND_TRIP_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** An HIS answers an MLLP message in milliseconds to seconds; a webhook may take its timeout. */
export const INBOUND_DELIVERY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A histogram not yet in any registry: the parts observe into it before /metrics exists. */
function unregistered<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
  return new Histogram({ name, help, labelNames, buckets, registers: [] });
}

/** Built before the parts that observe it, registered with the agent's registry afterwards. */
export class LatencyHistograms {
  private readonly ack = unregistered('wardline_agent_hl7_ack_latency_seconds', 'Seconds from a complete MLLP frame to its ACK being written, by source and ACK code (AA, AE, AR)', ['source', 'code'], ACK_LATENCY_BUCKETS_SECONDS);
  private readonly commit = unregistered('wardline_agent_journal_commit_duration_seconds', 'Seconds one journal transaction (a group commit, with its fsync) took', [], COMMIT_DURATION_BUCKETS_SECONDS);
  private readonly roundTrip = unregistered('wardline_agent_replication_round_trip_seconds', 'Seconds from a batch handed to the stream to the relay acknowledging it, by feed and relay', ['feed', 'relay'], ROUND_TRIP_BUCKETS_SECONDS);

  private readonly inboundDelivery = unregistered('wardline_agent_inbound_delivery_seconds', 'Seconds one inbound delivery attempt took at the sink (the hospital system answering), by channel', ['channel'], INBOUND_DELIVERY_BUCKETS_SECONDS);

  /** For the downlink's engines: one attempt of channel `channel` took `seconds`. */
  readonly observeInboundDelivery = (channel: string, seconds: number): void => this.inboundDelivery.observe({ channel }, seconds);

  /** For `MllpListenerOptions.observeAckLatency` of source `source`. */
  ackObserver(source: string): (seconds: number, code: string) => void {
    return (seconds, code) => this.ack.observe({ source, code }, seconds);
  }

  /** For `JournalOptions.observeCommit`. */
  readonly observeCommit = (seconds: number): void => this.commit.observe(seconds);

  /** For `ReplicatorOptions.observeRoundTrip` of relay `relay`. */
  roundTripObserver(relay: string): (feed: string, seconds: number) => void {
    return (feed, seconds) => this.roundTrip.observe({ feed, relay }, seconds);
  }

  register(registry: Registry): void {
    for (const metric of [this.ack, this.commit, this.roundTrip, this.inboundDelivery]) registry.registerMetric(metric);
  }
}
