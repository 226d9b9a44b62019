// Polling capture: a monotonic column up to a safe watermark. (Being built.)
import type { Source, SourceAddress, SourceStatus } from '../source.js';
import { captureSourceStatus, initialCaptureStatus, type CaptureSourceParts } from '../database/index.js';
import type { SqlPollSourceConfig } from './sql-poll-source-config.js';

export class SqlPollSource implements Source {
  readonly kind = 'sql-poll' as const;
  readonly name: string;
  constructor(
    readonly config: SqlPollSourceConfig,
    readonly parts: CaptureSourceParts,
  ) {
    this.name = config.name;
  }
  async start(): Promise<SourceAddress | null> {
    throw new Error('sql-poll sources are not built yet');
  }
  async stop(): Promise<void> {}
  status(): SourceStatus {
    return captureSourceStatus(this.name, this.kind, { received: 0, acknowledged: 0, rejected: 0, lastMessageAtMs: null }, initialCaptureStatus());
  }
}
