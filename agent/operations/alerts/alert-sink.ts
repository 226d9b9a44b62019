// Where alerts go besides the store and the dashboard: the webhook and syslog.
import type { AlertRecord } from './alert.js';

/** One delivery target. deliver() resolves when the target took the alert and rejects when it did not. */
export interface AlertSink {
  /** "webhook", "syslog": shown in status next to its figures. */
  readonly name: string;
  deliver(alert: AlertRecord): Promise<void>;
  close(): Promise<void>;
}
