// Assembles GET /v1/status from the parts' own status. The same object feeds the
// dashboard, `wardline agent status` and the metrics.
import { DISK_STATE_LEVEL } from '../health/index.js';
import type { ArchiveFootprint, DiskWatch, DiskWatchStatus } from '../health/index.js';
import { wallClockAt, type Timetable, type UplinkStatus } from '../bandwidth/index.js';
import type { AgentMetricsSnapshot } from './metrics/index.js';
import type { AlertsStatus } from './alerts/index.js';
import type { ReplicatorStatus } from '../replication/index.js';
import type { CompressionChoice, FeedBlockedKind, FeedProofStatus, MarkIncident } from '../replication/index.js';
import type { FeedControlState } from '../control/index.js';
import type { LedgerStatus } from '../audit/index.js';
import type { IdentifierScanStatus } from '../policy/index.js';
import type { BacklogCounter, Journal, JournalFootprint, JournalTrimmer, TrimResult } from '../store/index.js';
import type { SourceStatus } from '../sources/index.js';
import { BacklogDrain, type DrainEstimate } from './backlog-drain.js';
import { DiskShareForecast, type ShareForecast } from './disk-share-forecast.js';
import { imagingEta } from './imaging-eta.js';
import { ImagingRate } from './imaging-rate.js';
import type { DownlinkStatus } from '../downlink/index.js';
import { inboundStatusView, type InboundLinkView, type InboundStatusView } from './inbound-status.js';

export type { SourceStatus };

/** An imaging feed's blob transfer as the replication reports it (agent/replication/feed-pump.ts). */
export type ImagingFeedStatus = NonNullable<ReplicatorStatus['feeds'][number]['imaging']>;

/** An imaging feed's transfer as GET /v1/status serves it: etaSeconds walks the timetable (imaging-eta.ts). */
export interface ImagingFeedView extends ImagingFeedStatus {
  /**
   * While the timetable holds the feed's class back: when it may next send, that
   * instant's wall-clock time in the timetable's zone ("20:00"), how many days
   * from today that is there (0 = today), and the windows then in force; null
   * when it may send now.
   */
  opensAt: { atMs: number; time: string; dayOffset: number; windows: string[] } | null;
}

export interface FeedStatus {
  feed: string;
  relay: string;
  streams: string[];
  ackedSeq: number;
  sentSeq: number;
  inFlight: number;
  backlog: { events: number; bytes: number; oldestAgeSeconds: number | null };
  /** Age of the oldest event the relay has not acknowledged; 0 when caught up. */
  lagSeconds: number;
  /** Lag above this raises an alert and fails `wardline agent status` (alerts.lag), in seconds; null when not configured. */
  lagThresholdSeconds: number | null;
  lastAckAtMs: number | null;
  eventsSent: number;
  bytesSent: number;
  /** The codec and level the next batch is compressed at; setting adaptive when the level follows what is scarce (line or CPU). */
  compression: CompressionChoice;
  /** Priority class on the uplink. */
  class: string;
  /** Achieved rate: acknowledged compressed payload bytes per second, averaged over ~10 s. */
  rateBytesPerSecond: number;
  /** Seconds to drain the backlog at the achieved rate; 0 when caught up, null when unknown or the class may not send. */
  etaSeconds: number | null;
  /**
   * When the feed was last seen with nothing waiting (ms since the epoch): now while
   * caught up, and what "behind since" counts from while not; null when not caught up
   * since the agent started.
   */
  caughtUpAtMs: number | null;
  /** How fast the backlog is shrinking, net of what keeps arriving, and when it is empty at that rate. */
  drain: DrainEstimate;
  /** Why the feed's class may not send now (timetable); null when it may. */
  blocked: string | null;
  /** What `blocked` is, as a code the dashboard translates: trimmed, integrity, relay, operator, timetable; null when not blocked. */
  blockedKind: FeedBlockedKind | null;
  /** True while the operator holds the feed (paused, or revoked): nothing of it leaves. */
  paused: boolean;
  /** The operator's control: state (active, paused, revoking, revoked, reinstating), why, since when (ms), and whether the relay alone holds it revoked. */
  control: FeedControlView;
  /** The version of the policy shaping the feed's batches (0 = pass-through, no policy). */
  policyVersion: number;
  /**
   * What the policy let out in clear that looks like an identifier (`scan: true`):
   * counts by kind and where the last was seen, never the identifier. null without a policy.
   */
  identifiers: IdentifierScanStatus | null;
  /** The relay holds the feed beyond the journal head: what it claims, the head, and why the feed is stopped; null when not. */
  integrity: MarkIncident | null;
  /** A feed carrying imaging instances (blob-ref events): studies and bytes waiting, chunks, ETA, problem; absent for other feeds. */
  imaging?: ImagingFeedView;
  /** Completeness proofs: verified complete through which seq, the last proof, incidents; absent when proofs are off. */
  proofs?: FeedProofStatus;
}

export interface FeedControlView {
  state: FeedControlState;
  reason: string | null;
  /** Milliseconds since the epoch; null while the feed was never controlled. */
  since: number | null;
  revokedAtRelay: boolean;
}

/** The data directory's filesystem (disk budget) and what the journal holds on it. */
export interface DiskStatus extends DiskWatchStatus {
  /** Events held in the journal. */
  journalRows: number;
  /**
   * Rows also held below the trim floor, which no feed can be sent: records' current
   * versions, and versions superseded since that the next trim pass deletes.
   */
  journalKeptRows: number;
  /** The oldest seq still in the journal; null when it is empty. */
  oldestRetainedSeq: number | null;
  /** Bytes of free pages inside agent.db, which new events reuse before the file grows. */
  journalReusableBytes: number;
  /** Acknowledged events are kept this long, in ms. */
  retentionMs: number;
  /** The last trim pass; null before the first. */
  lastTrim: TrimResult | null;
  trimmedEventsTotal: number;
  trimmedDedupeKeysTotal: number;
  /** When Wardline's own writes fill the disk: the journal's and the archive's growth, smoothed (what the dashboard shows). */
  wardlineForecast: ShareForecast;
}

export interface AgentStatus {
  hospital: { id: string; name: string };
  agentId: string;
  version: string;
  startedAtMs: number;
  journal: { headSeq: number; pendingAppends: number; groupCommits: number; appendsCommitted: number };
  links: Omit<ReplicatorStatus, 'feeds'>[];
  feeds: FeedStatus[];
  sources: SourceStatus[];
  disk: DiskStatus | null;
  /** Alerts firing now, the newest few, and their delivery; null when not wired. */
  alerts: AlertsStatus | null;
  /** The uplink: rate limit and timetable in force, blocked classes; null when not wired. */
  bandwidth: UplinkStatus | null;
  /** The egress ledger: head, record count, retention, newest records (newest first); null when not wired. */
  ledger: LedgerStatus | null;
  /** Inbound channels (the downlink) and the quarantined events; null when none is configured. */
  downlink: InboundStatusView | null;
}

export interface AgentStatusInputs {
  hospital: { id: string; name: string };
  agentId: string;
  version: string;
  startedAtMs: number;
  journal: Journal;
  backlog: BacklogCounter;
  replicators: () => ReplicatorStatus[];
  sources: () => SourceStatus[];
  /** The alert monitor's view (agent/operations/alerts). */
  alerts?: () => AlertsStatus;
  /** Per-feed lag thresholds and per-source quiet periods, in seconds (null: none). */
  thresholds?: { lagSeconds: (feed: string) => number | null; quietPeriodSeconds: (source: string) => number | null };
  bandwidth?: () => UplinkStatus;
  /** The bandwidth timetable (bandwidth.timetable): an imaging feed's ETA counts the hours its class is held back. */
  timetable?: Timetable;
  /** archive: what the DICOM archive holds now (InstanceArchive.usage). */
  disk?: { watch: DiskWatch; footprint: JournalFootprint; trimmer: JournalTrimmer; retentionMs: number; archive?: () => ArchiveFootprint };
  ledger?: () => LedgerStatus;
  feedControl?: (feed: string) => FeedControlView;
  /** The delivery side of the downlink, and each relay link's inbound view (what waits at the relay). */
  downlink?: { status: () => DownlinkStatus; links: () => InboundLinkView[] };
  clock?: () => number;
}

export function createStatusProvider(inputs: AgentStatusInputs): () => AgentStatus {
  const clock = inputs.clock ?? Date.now;
  const backlogOf = (feed: string, streams: string[], ackedSeq: number) => inputs.backlog.backlog(feed, streams, ackedSeq);
  const drain = new BacklogDrain();
  const caughtUpAt = new Map<string, number>();
  const share = new DiskShareForecast();
  const imagingRate = new ImagingRate();

  return () => {
    const now = clock();
    const replicators = inputs.replicators();
    const feeds: FeedStatus[] = replicators.flatMap((r) =>
      r.feeds.map((f) => {
        const backlog = backlogOf(f.feed, f.streams, f.ackedSeq);
        const oldestAgeSeconds = backlog.oldestTsMs === null ? null : Math.max(0, (now - backlog.oldestTsMs) / 1000);
        if (backlog.events === 0) caughtUpAt.set(f.feed, now);
        return {
          feed: f.feed,
          relay: r.relay,
          streams: f.streams,
          ackedSeq: f.ackedSeq,
          sentSeq: f.sentSeq,
          inFlight: f.inFlight,
          backlog: { events: backlog.events, bytes: backlog.bytes, oldestAgeSeconds },
          lagSeconds: oldestAgeSeconds ?? 0,
          lagThresholdSeconds: inputs.thresholds?.lagSeconds(f.feed) ?? null,
          lastAckAtMs: f.lastAckAtMs,
          eventsSent: f.eventsSent,
          bytesSent: f.bytesSent,
          compression: f.compression,
          class: f.class,
          rateBytesPerSecond: f.rateBytesPerSecond,
          etaSeconds: etaSeconds(backlog.events, f.rateEventsPerSecond, f.blocked),
          caughtUpAtMs: caughtUpAt.get(f.feed) ?? null,
          drain: drain.observe(f.feed, backlog.events, now),
          blocked: f.blocked,
          blockedKind: f.blockedKind,
          paused: f.paused,
          control: inputs.feedControl?.(f.feed) ?? { state: f.paused ? 'paused' : 'active', reason: null, since: null, revokedAtRelay: false },
          policyVersion: f.policyVersion,
          identifiers: f.identifiers,
          integrity: f.integrity,
          ...(f.imaging ? { imaging: imagingView(f, f.imaging, imagingRate, inputs.timetable ?? null, now) } : {}),
          ...(f.proofs ? { proofs: f.proofs } : {}),
        };
      }),
    );
    const commits = inputs.journal.groupCommitStats;
    return {
      hospital: inputs.hospital,
      agentId: inputs.agentId,
      version: inputs.version,
      startedAtMs: inputs.startedAtMs,
      journal: { headSeq: inputs.journal.head, pendingAppends: inputs.journal.pendingAppends, groupCommits: commits.groups, appendsCommitted: commits.requests },
      links: replicators.map(({ feeds: _feeds, transitions, ...link }) => ({ ...link, transitions: transitions.slice(-50) })),
      feeds,
      sources: inputs.sources().map((source) => ({ ...source, quietPeriodSeconds: inputs.thresholds?.quietPeriodSeconds(source.name) ?? null })),
      disk: inputs.disk ? diskStatus(inputs.disk, share, now) : null,
      alerts: inputs.alerts?.() ?? null,
      bandwidth: inputs.bandwidth?.() ?? null,
      ledger: inputs.ledger?.() ?? null,
      downlink: inputs.downlink ? inboundStatusView(inputs.downlink.status(), inputs.downlink.links(), now) : null,
    };
  };
}

/** Below this many events per second the achieved rate says nothing about when a backlog drains. */
const MIN_RATE_FOR_ETA_EVENTS_PER_SECOND = 0.01;

/** Seconds to drain a backlog at the achieved rate (events, so compression does not skew it). */
function etaSeconds(backlogEvents: number, eventsPerSecond: number, blocked: string | null): number | null {
  if (backlogEvents === 0) return 0;
  if (blocked !== null || eventsPerSecond < MIN_RATE_FOR_ETA_EVENTS_PER_SECOND) return null;
  return backlogEvents / eventsPerSecond;
}

/**
 * The feed's imaging status with its ETA through the timetable. Held back by
 * anything but the timetable (paused, the relay, a problem with the instances)
 * it has none: nobody knows when that ends.
 */
function imagingView(feed: ReplicatorStatus['feeds'][number], imaging: ImagingFeedStatus, rates: ImagingRate, timetable: Timetable | null, nowMs: number): ImagingFeedView {
  const rate = rates.observe(feed.feed, imaging.chunkBytesSent, nowMs, feed.blocked === null);
  const heldOtherwise = feed.paused || imaging.problem !== null || (feed.blocked !== null && feed.blockedKind !== 'timetable');
  const eta = imagingEta({ bytesWaiting: imaging.bytesWaiting, rateBytesPerSecond: rate, feedClass: feed.class, timetable, nowMs });
  const opensAt =
    eta.opensAt && timetable
      ? { atMs: eta.opensAt.atMs, time: wallTime(eta.opensAt.atMs, timetable.timeZone), dayOffset: daysBetween(nowMs, eta.opensAt.atMs, timetable.timeZone), windows: eta.opensAt.windows }
      : null;
  return { ...imaging, etaSeconds: heldOtherwise && imaging.bytesWaiting > 0 ? null : eta.seconds, opensAt };
}

/** "20:00" (or "20:00:30" when the window starts off the minute) in `timeZone`. */
function wallTime(atMs: number, timeZone: string): string {
  const second = wallClockAt(atMs, timeZone).secondOfDay;
  const hh = String(Math.floor(second / 3600)).padStart(2, '0');
  const mm = String(Math.floor((second % 3600) / 60)).padStart(2, '0');
  const ss = second % 60;
  return ss === 0 ? `${hh}:${mm}` : `${hh}:${mm}:${String(ss).padStart(2, '0')}`;
}

/** Calendar days from the date at `fromMs` to the date at `toMs`, both in `timeZone`. */
function daysBetween(fromMs: number, toMs: number, timeZone: string): number {
  const a = wallClockAt(fromMs, timeZone);
  const b = wallClockAt(toMs, timeZone);
  return Math.round((Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / 86_400_000);
}

function diskStatus(disk: NonNullable<AgentStatusInputs['disk']>, share: DiskShareForecast, nowMs: number): DiskStatus {
  const held = disk.footprint.read();
  const watched = disk.watch.status();
  const archive = disk.archive?.() ?? null;
  return {
    ...watched,
    // The watch's figures are from its last reading; these are current.
    journalBytes: held.fileBytes,
    archive: archive ?? watched.archive,
    journalRows: held.rows,
    journalKeptRows: held.keptRows,
    oldestRetainedSeq: held.oldestSeq,
    journalReusableBytes: held.reusableBytes,
    retentionMs: disk.retentionMs,
    lastTrim: disk.trimmer.lastTrim,
    trimmedEventsTotal: disk.trimmer.totals.events,
    trimmedDedupeKeysTotal: disk.trimmer.totals.dedupeKeys,
    wardlineForecast: share.observe(nowMs, held.fileBytes - held.reusableBytes + (archive?.bytes ?? 0), watched.freeBytes ?? null),
  };
}

export function toMetricsSnapshot(status: AgentStatus, nowMs: number = Date.now()): AgentMetricsSnapshot {
  return {
    journalHeadSeq: status.journal.headSeq,
    groupCommits: status.journal.groupCommits,
    appendsCommitted: status.journal.appendsCommitted,
    links: status.links.map((l) => ({ relay: l.relay, streaming: l.state === 'streaming' })),
    feeds: status.feeds.map((f) => ({
      feed: f.feed,
      relay: f.relay,
      ackedSeq: f.ackedSeq,
      eventsSent: f.eventsSent,
      bytesSent: f.bytesSent,
      compression: { codec: f.compression.codec, level: f.compression.level },
      backlogEvents: f.backlog.events,
      backlogBytes: f.backlog.bytes,
      lagSeconds: f.lagSeconds,
      ...(f.proofs ? { proofs: { verifiedThroughSeq: f.proofs.verifiedThroughSeq, incidents: f.proofs.incidents } } : {}),
    })),
    sources: status.sources.map((s) => ({ source: s.name, received: s.received, acknowledged: s.acknowledged, rejected: s.rejected, duplicates: s.duplicates })),
    disk: status.disk
      ? {
          freeBytes: status.disk.freeBytes,
          totalBytes: status.disk.totalBytes,
          stateLevel: DISK_STATE_LEVEL[status.disk.state],
          forecastFullInSeconds: status.disk.forecastFullInSeconds,
          journalBytes: status.disk.journalBytes ?? 0,
          journalRows: status.disk.journalRows,
          journalKeptRows: status.disk.journalKeptRows,
          trimmedEvents: status.disk.trimmedEventsTotal,
          trimmedDedupeKeys: status.disk.trimmedDedupeKeysTotal,
        }
      : undefined,
    bandwidth: status.bandwidth
      ? {
          limitBytesPerSecond: status.bandwidth.rateLimitBytesPerSecond,
          classes: status.bandwidth.classes.map((c) => ({ class: c, blocked: status.bandwidth!.blockedClasses.includes(c) })),
        }
      : undefined,
    inbound: status.downlink?.channels.map((c) => {
      const oldest = [c.oldestWaitingAtMs, c.atRelay?.oldestReceivedAtMs ?? null].filter((t): t is number => t !== null);
      return {
        channel: c.channel,
        received: c.received,
        accepted: c.accepted,
        refused: c.refused,
        expired: c.expired,
        atAgent: c.pending + c.retrying + c.awaiting,
        quarantined: c.quarantined,
        atRelay: c.atRelay?.waiting ?? null,
        oldestWaitingSeconds: oldest.length === 0 ? null : Math.max(0, (nowMs - Math.min(...oldest)) / 1000),
      };
    }),
  };
}
