// Decides which alerts to raise from the agent's status: one DebouncedLevel per
// condition (link per relay, lag and backlog age per feed, the disk, silence per
// source), so each condition says one thing when it changes and nothing while it
// flaps. Pure: the status and the time are arguments; no timers, no I/O.
import { alertKey, type AlertRecord, type AlertRule } from './alert.js';
import { alertMessage } from './alert-text.js';
import type { AlertsConfig } from './alerts-config.js';
import { DebouncedLevel, type DebounceTimes, type LevelChange } from './debounced-level.js';

/** The part of GET /v1/status the alerts read (AgentStatus satisfies it). */
export interface AlertInputs {
  links: readonly { relay: string; state: string; sinceMs: number; lastError: string | null; /** replication's LinkErrorKind, for the translated texts. */ lastErrorKind?: string | null }[];
  feeds: readonly {
    feed: string;
    lagSeconds: number;
    backlog: { events: number; oldestAgeSeconds: number | null };
    blocked: string | null;
    /** Set by the pause/resume feature; absent means not paused. */
    paused?: boolean;
    /** The relay's mark is beyond the journal head (the feed is stopped); absent or null when not. */
    integrity?: { relayMarkSeq: number; journalHeadSeq: number; ackedSeq: number; reason: string } | null;
    /** An imaging feed's instance transfer (FeedStatus.imaging); absent for other feeds. */
    imaging?: ImagingAlertInput;
    /** Completeness proofs (FeedStatus.proofs); absent when off. */
    proofs?: { verifiedThroughSeq: number; incidents: number; problem: string | null };
  }[];
  sources: readonly {
    name: string;
    lastMessageAtMs: number | null;
    /** HL7 senders that reused a control id with other content (agent/sources/mllp/control-id-reuse-log.ts); absent for other kinds. */
    controlIdReuse?: readonly ControlIdReuseInput[];
    /** Database sources (postgres, mysql, sql-poll): their CaptureStatus; absent for other kinds. */
    capture?: CaptureAlertInput;
  }[];
  disk: { path: string; state: 'ok' | 'warning' | 'critical'; usedPercent: number | null; reason: string | null; forecastFullInSeconds: number | null } | null;
  /** Inbound channels (AgentStatus.downlink); absent or null when none is configured. */
  downlink?: { channels: readonly { channel: string; quarantined: number }[]; quarantined: readonly { id: string; channel: string; sinceMs: number }[] } | null;
}

/** The part of a database source's CaptureStatus (agent/sources/database/capture-status.ts) the alerts read. */
export interface CaptureAlertInput {
  state: string;
  reason: string | null;
  lagMs: number | null;
  retained: { bytes: number | null; budgetBytes: number | null; status: string | null; secondsToBudget: number | null } | null;
  /** `code` when the source sets it; otherwise the message is searched for the code. */
  lastError: { atMs: number; message: string; code?: string } | null;
}

/** The part of an imaging feed's status (agent/operations/agent-status.ts ImagingFeedView) the alerts read. */
export interface ImagingAlertInput {
  bytesWaiting: number;
  instancesWaiting: number;
  chunksSent: number;
  chunkBytesSent: number;
  problem: { code: string; message: string; sinceMs: number } | null;
}

/** The retained WAL/binlog share of the budget that raises capture-wal-budget, in %. */
export const CAPTURE_WAL_BUDGET_PERCENT = 50;

/** The error code a source reports when the server no longer holds its position (CapturePositionLostError). */
const POSITION_LOST_CODE = 'WL_A025';

/** Whether a capture source's last error says its position was lost (slot invalidated, binlog purged). */
export function isPositionLostError(error: CaptureAlertInput['lastError']): boolean {
  if (!error) return false;
  return error.code === POSITION_LOST_CODE || error.message.includes(POSITION_LOST_CODE);
}

/** The retained WAL/binlog as a share of its budget, in %; null without a budget or a reading. */
export function retainedBudgetPercent(retained: CaptureAlertInput['retained']): number | null {
  if (!retained || retained.bytes === null || retained.budgetBytes === null || retained.budgetBytes <= 0) return null;
  return (retained.bytes / retained.budgetBytes) * 100;
}

/** One sender's reused control ids, as the MLLP listener counts them. */
export interface ControlIdReuseInput {
  sendingApplication: string;
  sendingFacility: string;
  /** The latest control id reused. */
  controlId: string;
  /** Reuses since the agent started; a rise is a new one. */
  count: number;
  seq: number;
}

/** The alert subject for a sender of a source: "lis LIS|HOSP". */
export function controlIdReuseSubject(source: string, reuse: { sendingApplication: string; sendingFacility: string }): string {
  return `${source} ${reuse.sendingApplication}|${reuse.sendingFacility}`;
}

/** Link states in which nothing reaches the relay although the agent wants it to. */
const LINK_DOWN_STATES: ReadonlySet<string> = new Set(['offline', 'connecting', 'backoff']);
const DISK_LEVEL = { ok: 0, warning: 1, critical: 2 } as const;

export interface AlertEvaluatorOptions {
  config: AlertsConfig;
  /** Silence is measured from here for a source that never received anything: the agent's start, ms since the epoch. */
  watchingSinceMs: number;
  /** Levels last reported per alertKey (from the store), so a restart neither repeats nor forgets an alert. */
  restoredLevels?: ReadonlyMap<string, number>;
}

/** A feed's lag threshold in seconds: alerts.feeds.<feed>.lag, else alerts.lag. */
export function lagThresholdSeconds(config: AlertsConfig, feed: string): number {
  return (config.feeds[feed]?.lag ?? config.lag) / 1000;
}

/** A feed's backlog-age threshold in seconds: alerts.feeds.<feed>.backlogAge, else alerts.backlogAge. */
export function backlogAgeThresholdSeconds(config: AlertsConfig, feed: string): number {
  return (config.feeds[feed]?.backlogAge ?? config.backlogAge) / 1000;
}

/**
 * Whether a feed's lag counts against it: above its threshold, and neither
 * paused by an operator nor held back by the timetable (both are the hospital's
 * own choice, shown as such on the dashboard). `wardline agent status` uses the
 * same rule for its exit code.
 */
export function feedLagExceeded(feed: { lagSeconds: number; blocked: string | null; paused?: boolean }, thresholdSeconds: number | null): boolean {
  if (thresholdSeconds === null || feed.paused === true || feed.blocked !== null) return false;
  return feed.lagSeconds > thresholdSeconds;
}

export class AlertEvaluator {
  private readonly conditions = new Map<string, DebouncedLevel>();
  /** Per control-id-reused condition, what was last seen of it: a rise of the count raises the alert. */
  private readonly reuseSeen = new Map<string, { subject: string; count: number; details: AlertRecord['details'] }>();
  /** Relays whose link has been seen streaming since this evaluator started. */
  private readonly linksSeenUp = new Set<string>();
  /** Per capture source, when its last position-lost error was raised (lastError.atMs): a new one raises again. */
  private readonly positionLostSeen = new Map<string, number>();
  /** Per imaging feed, its chunk counters when last seen moving and since when they have not: what imaging-stalled measures. */
  private readonly imagingProgress = new Map<string, { chunksSent: number; chunkBytesSent: number; stillSinceMs: number }>();
  private readonly config: AlertsConfig;

  constructor(private readonly options: AlertEvaluatorOptions) {
    this.config = options.config;
  }

  /** The level last reported for a condition (0 when it was never raised). */
  levelOf(rule: AlertRule, subject: string): number {
    return this.conditions.get(alertKey(rule, subject))?.level ?? this.options.restoredLevels?.get(alertKey(rule, subject)) ?? 0;
  }

  /** Feeds one status taken at `nowMs` (ms since the epoch); returns the alerts to raise, oldest rule first. */
  evaluate(inputs: AlertInputs, nowMs: number): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    const settle = this.config.settleAfter;
    const hysteresis = 1 - this.config.hysteresisPercent / 100;

    for (const link of inputs.links) {
      // A closing link is the agent stopping, not the line failing: say nothing.
      if (link.state === 'closed') continue;
      const observed = LINK_DOWN_STATES.has(link.state) ? 1 : 0;
      if (observed === 0 && !this.linksSeenUp.has(link.relay)) {
        // The start-up connect is not trouble: once the link is up, a later drop is
        // counted from its own start, not from the agent's (rule 2 of DebouncedLevel
        // would otherwise raise a short cut soon after start at once).
        this.linksSeenUp.add(link.relay);
        this.conditions.get(alertKey('link', link.relay))?.forgetPendingRise();
      }
      const change = this.observe('link', link.relay, observed, nowMs, { raiseAfterMs: this.config.linkLostAfter, clearAfterMs: settle });
      if (change) alerts.push(this.record('link', link.relay, change, null, null, { state: link.state, sinceMs: link.sinceMs, lastError: link.lastError, ...(link.lastErrorKind ? { lastErrorKind: link.lastErrorKind } : {}) }));
    }

    for (const feed of inputs.feeds) {
      const held = feed.paused === true || feed.blocked !== null;
      const lagThreshold = lagThresholdSeconds(this.config, feed.feed);
      const lagLevel = held ? 0 : banded(feed.lagSeconds, lagThreshold, hysteresis, this.levelOf('lag', feed.feed));
      const lagChange = this.observe('lag', feed.feed, lagLevel, nowMs, { raiseAfterMs: 0, clearAfterMs: settle });
      const details = { backlogEvents: feed.backlog.events, held: feed.paused === true ? 'paused' : feed.blocked };
      if (lagChange) alerts.push(this.record('lag', feed.feed, lagChange, feed.lagSeconds, lagThreshold, details));

      const age = feed.backlog.oldestAgeSeconds ?? 0;
      const ageThreshold = backlogAgeThresholdSeconds(this.config, feed.feed);
      const ageLevel = held ? 0 : banded(age, ageThreshold, hysteresis, this.levelOf('backlog-age', feed.feed));
      const ageChange = this.observe('backlog-age', feed.feed, ageLevel, nowMs, { raiseAfterMs: 0, clearAfterMs: settle });
      if (ageChange) alerts.push(this.record('backlog-age', feed.feed, ageChange, age, ageThreshold, details));

      // Raised at once: every event of the feed from now on would be dropped by the relay.
      const incident = feed.integrity ?? null;
      const integrityChange = this.observe('feed-integrity', feed.feed, incident ? 1 : 0, nowMs, { raiseAfterMs: 0, clearAfterMs: settle });
      if (integrityChange) {
        alerts.push(
          // Seqs go in details: value is rounded to a tenth, which 2^53 - 1 does not survive.
          this.record('feed-integrity', feed.feed, integrityChange, null, null, {
            relayMarkSeq: incident?.relayMarkSeq ?? null,
            journalHeadSeq: incident?.journalHeadSeq ?? null,
            ackedSeq: incident?.ackedSeq ?? null,
            reason: incident?.reason ?? null,
          }),
        );
      }
    }

    for (const feed of inputs.feeds) {
      // Raised once, at once, when the first integrity incident is found; further incidents show in the status, not as more alerts.
      const incidents = feed.proofs?.incidents ?? 0;
      const proofChange = this.observe('feed-proof', feed.feed, incidents > 0 ? 1 : 0, nowMs, { raiseAfterMs: 0, clearAfterMs: settle });
      if (proofChange) {
        alerts.push(this.record('feed-proof', feed.feed, proofChange, null, null, { incidents, verifiedThroughSeq: feed.proofs?.verifiedThroughSeq ?? null }));
      }
    }

    for (const feed of inputs.feeds) if (feed.imaging) alerts.push(...this.evaluateImaging(feed, feed.imaging, nowMs));

    if (inputs.disk) {
      const disk = inputs.disk;
      // The disk budget already keeps its states apart by 2 points of hysteresis; a
      // rise is reported at once because admission changes with it.
      const change = this.observe('disk', disk.path, DISK_LEVEL[disk.state], nowMs, { raiseAfterMs: 0, clearAfterMs: settle });
      if (change) {
        alerts.push(this.record('disk', disk.path, change, disk.usedPercent, null, { state: disk.state, reason: disk.reason, forecastFullInSeconds: disk.forecastFullInSeconds }));
      }
    }

    for (const source of inputs.sources) {
      const quietMs = this.config.quietPeriods[source.name];
      if (quietMs === undefined) continue;
      const silentSeconds = Math.max(0, nowMs - (source.lastMessageAtMs ?? this.options.watchingSinceMs)) / 1000;
      const observed = silentSeconds * 1000 >= quietMs ? 1 : 0;
      const change = this.observe('source-silent', source.name, observed, nowMs, { raiseAfterMs: 0, clearAfterMs: settle });
      if (change) alerts.push(this.record('source-silent', source.name, change, silentSeconds, quietMs / 1000, { lastMessageAtMs: source.lastMessageAtMs }));
    }

    for (const source of inputs.sources) if (source.capture) alerts.push(...this.evaluateCapture(source.name, source.capture, nowMs, hysteresis));

    const reusesNow = new Set<string>();
    for (const source of inputs.sources) {
      for (const reuse of source.controlIdReuse ?? []) {
        // An event, not a level: raised by each new reuse, resolved after settleAfter
        // without one. Not restored across a restart: the counts start again from 0,
        // and a reuse after the restart must raise again.
        const subject = controlIdReuseSubject(source.name, reuse);
        const key = alertKey('control-id-reused', subject);
        reusesNow.add(key);
        const observed = reuse.count > (this.reuseSeen.get(key)?.count ?? 0) ? 1 : 0;
        const details = { source: source.name, sendingApplication: reuse.sendingApplication, sendingFacility: reuse.sendingFacility, controlId: reuse.controlId, seq: reuse.seq };
        this.reuseSeen.set(key, { subject, count: reuse.count, details });
        let condition = this.conditions.get(key);
        if (!condition) this.conditions.set(key, (condition = new DebouncedLevel({ raiseAfterMs: 0, clearAfterMs: settle })));
        const change = condition.observe(observed, nowMs);
        if (change) alerts.push(this.record('control-id-reused', subject, change, reuse.count, null, details));
      }
    }
    // MSH-3/MSH-4 are whatever peers send: a sender the listener no longer lists
    // resolves like a quiet one, and is then forgotten, so the conditions stay bounded.
    for (const [key, seen] of this.reuseSeen) {
      if (reusesNow.has(key)) continue;
      const condition = this.conditions.get(key);
      const change = condition?.observe(0, nowMs);
      if (change) alerts.push(this.record('control-id-reused', seen.subject, change, seen.count, null, seen.details));
      if ((condition?.level ?? 0) === 0) {
        this.reuseSeen.delete(key);
        this.conditions.delete(key);
      }
    }
    for (const channel of inputs.downlink?.channels ?? []) {
      // Raised at once: a quarantined event holds its key (that patient's later events wait) until someone acts.
      const change = this.observe('inbound-quarantine', channel.channel, channel.quarantined > 0 ? 1 : 0, nowMs, { raiseAfterMs: 0, clearAfterMs: settle });
      if (change) {
        const held = (inputs.downlink?.quarantined ?? []).filter((q) => q.channel === channel.channel);
        const oldest = held.reduce<{ id: string; sinceMs: number } | null>((a, q) => (a === null || q.sinceMs < a.sinceMs ? q : a), null);
        // Ids only: a reason may carry the hospital system's words about the patient.
        alerts.push(this.record('inbound-quarantine', channel.channel, change, channel.quarantined, 0, { quarantined: channel.quarantined, oldestId: oldest?.id ?? null, oldestSinceMs: oldest?.sinceMs ?? null }));
      }
    }
    return alerts;
  }

  /**
   * A database source's four conditions, each said once when it starts and once
   * when it ends. A capture state moves by itself (retrying → streaming), so the
   * rise is reported at once and the fall after settleAfter of calm.
   */
  private evaluateCapture(name: string, capture: CaptureAlertInput, nowMs: number, hysteresis: number): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    const times = { raiseAfterMs: 0, clearAfterMs: this.config.settleAfter };
    const lagSeconds = capture.lagMs === null ? null : capture.lagMs / 1000;

    const stopped = this.observe('capture-stopped', name, capture.state === 'stopped' ? 1 : 0, nowMs, times);
    if (stopped) alerts.push(this.record('capture-stopped', name, stopped, null, null, { state: capture.state, reason: capture.reason }));

    // The source decides lagging against its own lagThreshold; the alert follows its state.
    const lagging = this.observe('capture-lagging', name, capture.state === 'lagging' ? 1 : 0, nowMs, times);
    if (lagging) alerts.push(this.record('capture-lagging', name, lagging, lagSeconds, null, { state: capture.state }));

    // Raised by each new position-lost error, held while the source re-reads its
    // tables, resolved once it streams again: a loss is never passed over silently,
    // even one whose re-snapshot finished between two evaluations.
    const lost = isPositionLostError(capture.lastError);
    const fresh = lost && this.positionLostSeen.get(name) !== capture.lastError!.atMs;
    if (fresh) this.positionLostSeen.set(name, capture.lastError!.atMs);
    const recovering = lost && capture.state !== 'streaming' && capture.state !== 'lagging';
    const lostChange = this.observe('capture-position-lost', name, fresh || recovering ? 1 : 0, nowMs, times);
    if (lostChange) alerts.push(this.record('capture-position-lost', name, lostChange, null, null, { state: capture.state, message: lost ? capture.lastError!.message : null }));

    const percent = retainedBudgetPercent(capture.retained);
    const budgetLevel = percent === null ? 0 : banded(percent, CAPTURE_WAL_BUDGET_PERCENT, hysteresis, this.levelOf('capture-wal-budget', name));
    const budget = this.observe('capture-wal-budget', name, budgetLevel, nowMs, times);
    if (budget) {
      alerts.push(
        this.record('capture-wal-budget', name, budget, percent, CAPTURE_WAL_BUDGET_PERCENT, {
          bytes: capture.retained?.bytes ?? null,
          budgetBytes: capture.retained?.budgetBytes ?? null,
          secondsToBudget: capture.retained?.secondsToBudget ?? null,
          walStatus: capture.retained?.status ?? null,
        }),
      );
    }
    return alerts;
  }

  /**
   * An imaging feed's two conditions. imaging-blocked follows the feed's problem:
   * raised once when one appears, resolved once when it is gone (after
   * settleAfter of calm). imaging-stalled: bytes wait, the feed may send (not
   * held by the timetable, the operator or the relay, and no problem), and no
   * chunk byte has moved for alerts.imagingStalledAfter; time held back does not
   * count, so a bulk feed that waits for its night window is not stalled.
   */
  private evaluateImaging(feed: AlertInputs['feeds'][number], imaging: ImagingAlertInput, nowMs: number): AlertRecord[] {
    const alerts: AlertRecord[] = [];
    const times = { raiseAfterMs: 0, clearAfterMs: this.config.settleAfter };
    const problem = imaging.problem;
    const blocked = this.observe('imaging-blocked', feed.feed, problem ? 1 : 0, nowMs, times);
    if (blocked) alerts.push(this.record('imaging-blocked', feed.feed, blocked, null, null, { code: problem?.code ?? null, message: problem?.message ?? null, sinceMs: problem?.sinceMs ?? null }));

    const maySend = feed.paused !== true && feed.blocked === null && problem === null;
    const seen = this.imagingProgress.get(feed.feed);
    const moved = !seen || seen.chunksSent !== imaging.chunksSent || seen.chunkBytesSent !== imaging.chunkBytesSent;
    // The stall clock runs only while bytes wait and the feed may send: it starts again on progress and while held.
    const stillSinceMs = moved || !maySend || imaging.bytesWaiting === 0 ? nowMs : seen.stillSinceMs;
    this.imagingProgress.set(feed.feed, { chunksSent: imaging.chunksSent, chunkBytesSent: imaging.chunkBytesSent, stillSinceMs });
    const stillSeconds = (nowMs - stillSinceMs) / 1000;
    const thresholdSeconds = this.config.imagingStalledAfter / 1000;
    const stalled = this.observe('imaging-stalled', feed.feed, stillSeconds >= thresholdSeconds ? 1 : 0, nowMs, times);
    if (stalled) alerts.push(this.record('imaging-stalled', feed.feed, stalled, stillSeconds, thresholdSeconds, { bytesWaiting: imaging.bytesWaiting, instancesWaiting: imaging.instancesWaiting, chunksSent: imaging.chunksSent }));
    return alerts;
  }

  private observe(rule: AlertRule, subject: string, level: number, nowMs: number, times: DebounceTimes): LevelChange | null {
    const key = alertKey(rule, subject);
    let condition = this.conditions.get(key);
    if (!condition) {
      condition = new DebouncedLevel(times, this.options.restoredLevels?.get(key) ?? 0);
      this.conditions.set(key, condition);
    }
    return condition.observe(level, nowMs);
  }

  private record(rule: AlertRule, subject: string, change: LevelChange, value: number | null, threshold: number | null, details: AlertRecord['details']): AlertRecord {
    const severity = change.to === 0 ? 'info' : severityOf(rule, change.to);
    const rounded = value === null ? null : Math.round(value * 10) / 10;
    return {
      id: 0,
      atMs: change.atMs,
      rule,
      subject,
      level: change.to,
      previousLevel: change.from,
      state: change.to === 0 ? 'resolved' : 'firing',
      severity,
      message: alertMessage({ rule, subject, level: change.to, previousLevel: change.from, value: rounded, threshold, details }),
      value: rounded,
      threshold,
      details,
    };
  }
}

/**
 * 1 at or above the threshold, 0 below threshold × band, and in between whatever
 * was last reported: a value hovering at the threshold changes nothing.
 */
function banded(value: number, threshold: number, band: number, reported: number): number {
  if (value >= threshold) return 1;
  if (value < threshold * band) return 0;
  return reported;
}

function severityOf(rule: AlertRule, level: number): 'critical' | 'warning' {
  switch (rule) {
    case 'link':
    case 'backlog-age':
    case 'control-id-reused':
    case 'feed-integrity':
    case 'feed-proof':
      return 'critical';
    case 'disk':
      return level >= 2 ? 'critical' : 'warning';
    case 'capture-stopped':
    case 'capture-position-lost':
      return 'critical';
    case 'imaging-blocked':
    case 'imaging-stalled':
    case 'inbound-quarantine':
      return 'warning';
    case 'lag':
    case 'source-silent':
    case 'capture-lagging':
    case 'capture-wal-budget':
      return 'warning';
  }
}
