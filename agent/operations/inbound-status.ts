// The `downlink` section of GET /v1/status: each inbound channel's delivery (the
// engine's counts, pause, sink state) joined with what its relay last reported
// waiting there, and one `problem` sentence per channel saying why events are not
// flowing, so the dashboard, the CLI and the alert read the same answer.
import type { ChannelDeliveryStatus, DownlinkStatus, QuarantinedEvent, SinkState } from '../downlink/index.js';

/** What a relay's link says of its inbound channels (Replicator.inboundStatus()). */
export interface InboundLinkView {
  relay: string;
  protocolVersion: number;
  problem: string | null;
  channels: { channel: string; atRelay: { waiting: number; oldestReceivedAtMs: number | null; reportedAtMs: number } | null }[];
}

/** Waiting at the relay, as last reported: reportedAtMs says when. */
export interface InboundAtRelay {
  waiting: number;
  oldestReceivedAtMs: number | null;
  reportedAtMs: number;
}

export interface InboundChannelView {
  channel: string;
  relay: string;
  sinkKind: string;
  paused: boolean;
  pausedBy: ChannelDeliveryStatus['pausedBy'];
  sinkState: SinkState;
  received: number;
  accepted: number;
  refused: number;
  expired: number;
  /** Not yet attempted, or being delivered now. */
  pending: number;
  retrying: number;
  awaiting: number;
  quarantined: number;
  /** received_at of the oldest event at the agent not yet final; null when none. */
  oldestWaitingAtMs: number | null;
  /** null until the relay has reported (or when it cannot: protocol 1). */
  atRelay: InboundAtRelay | null;
  /** Why events are not flowing, one sentence; null when they are. */
  problem: string | null;
}

export interface InboundStatusView {
  channels: InboundChannelView[];
  quarantined: QuarantinedEvent[];
}

/** The one sentence that says what holds a channel back, most fundamental first. */
export function inboundProblem(channel: ChannelDeliveryStatus, link: InboundLinkView | undefined, nowMs: number): string | null {
  if (link?.problem) return link.problem;
  if (channel.paused) {
    const by = channel.pausedBy;
    return `paused${by ? ` by ${by.operator} at ${new Date(by.sinceMs).toISOString()}${by.reason ? `: ${by.reason}` : ''}` : ''}; events are journaled and wait`;
  }
  if (channel.sinkState.state === 'down') {
    const minutes = Math.floor((nowMs - channel.sinkState.sinceMs) / 60_000);
    return `the ${channel.sinkKind} sink has been down since ${new Date(channel.sinkState.sinceMs).toISOString()} (${minutes} min): ${channel.sinkState.reason}`;
  }
  if (channel.quarantined > 0) return `${channel.quarantined} event${channel.quarantined === 1 ? '' : 's'} quarantined: each holds its key until replayed or refused`;
  return null;
}

export function inboundStatusView(downlink: DownlinkStatus, links: readonly InboundLinkView[], nowMs: number): InboundStatusView {
  const linkOf = new Map(links.map((l) => [l.relay, l]));
  return {
    channels: downlink.channels.map((c) => {
      const link = linkOf.get(c.relay);
      const atRelay = link?.channels.find((x) => x.channel === c.channel)?.atRelay ?? null;
      return {
        channel: c.channel,
        relay: c.relay,
        sinkKind: c.sinkKind,
        paused: c.paused,
        pausedBy: c.pausedBy,
        sinkState: c.sinkState,
        received: c.received,
        accepted: c.accepted,
        refused: c.refused,
        expired: c.expired,
        pending: c.pending + c.delivering,
        retrying: c.retrying,
        awaiting: c.awaiting,
        quarantined: c.quarantined,
        oldestWaitingAtMs: c.oldestWaitingAtMs,
        atRelay,
        problem: inboundProblem(c, link, nowMs),
      };
    }),
    quarantined: downlink.quarantined,
  };
}
