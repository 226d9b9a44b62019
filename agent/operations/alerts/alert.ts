// What an alert is: one change of one condition's level, said once. The same
// record is stored, shown on the dashboard, posted to the webhook and sent to
// syslog. Alerts name relays, feeds, sources and the data directory only —
// never anything from a message.

/** The conditions the agent watches. */
export type AlertRule = 'link' | 'lag' | 'backlog-age' | 'disk' | 'source-silent' | 'control-id-reused'
  // The relay holds a feed beyond the agent's journal head (replication/feed-window.ts): the feed is stopped.
  | 'feed-integrity'
  // A completeness proof found the relay holding a feed's events otherwise than sent (replication/feed-prover.ts).
  | 'feed-proof'
  // Database sources (postgres, mysql, sql-poll), from their SourceStatus.capture.
  | 'capture-stopped' | 'capture-lagging' | 'capture-position-lost' | 'capture-wal-budget'
  // Imaging feeds, from their FeedStatus.imaging: instances that cannot ship, or stopped moving while they may.
  | 'imaging-blocked' | 'imaging-stalled'
  // Inbound channels (the downlink): events set aside, each holding its key, until an operator replays or refuses them.
  | 'inbound-quarantine';

export const ALERT_RULES: readonly AlertRule[] = [
  'link', 'lag', 'backlog-age', 'disk', 'source-silent', 'control-id-reused', 'feed-integrity', 'feed-proof',
  'capture-stopped', 'capture-lagging', 'capture-position-lost', 'capture-wal-budget',
  'imaging-blocked', 'imaging-stalled', 'inbound-quarantine',
];

/** `critical` and `warning` while firing; `info` for the record that says it resolved. */
export type AlertSeverity = 'critical' | 'warning' | 'info';

/** `firing` while the condition's level is above 0, `resolved` when it is back to 0. */
export type AlertState = 'firing' | 'resolved';

export interface AlertRecord {
  /** The store's id (increasing); 0 before the record is stored. */
  id: number;
  /** When the change was decided, ms since the epoch. */
  atMs: number;
  rule: AlertRule;
  /**
   * What it is about: a relay (link), a feed (lag, backlog-age), a source, the data
   * directory (disk), or a source's sender (control-id-reused: `lis LIS|HOSP`, MSH-3|MSH-4).
   */
  subject: string;
  /** The level now: 0 fine, 1 raised, 2 critical (disk only). */
  level: number;
  previousLevel: number;
  state: AlertState;
  severity: AlertSeverity;
  /** One line for people, in English; the dashboard words it in the reader's language from the fields. */
  message: string;
  /** The measured value that decided it (seconds for lag, age and silence; used % for disk and the WAL budget; capture lag in seconds; seconds without chunk progress for imaging-stalled); null for the link, feed-integrity, capture-stopped, capture-position-lost and imaging-blocked. */
  value: number | null;
  /** The threshold it was compared with, in the same unit; null for the link. */
  threshold: number | null;
  /** Extra facts for the reader: the link's state and last error, the backlog's size, the disk's forecast. */
  details: Record<string, string | number | null>;
}

/** The key one condition is tracked under: `link:cloud`, `lag:clinical`, `disk:/var/lib/wardline`. */
export function alertKey(rule: AlertRule, subject: string): string {
  return `${rule}:${subject}`;
}
