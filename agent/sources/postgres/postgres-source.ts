// PostgreSQL change capture: pgoutput through a persistent slot. (Being built.)
import type { Source, SourceAddress, SourceStatus } from '../source.js';
import { captureSourceStatus, initialCaptureStatus, type CaptureSourceParts } from '../database/index.js';
import type { PostgresSourceConfig } from './postgres-source-config.js';

export class PostgresSource implements Source {
  readonly kind = 'postgres' as const;
  readonly name: string;
  constructor(
    readonly config: PostgresSourceConfig,
    readonly parts: CaptureSourceParts,
  ) {
    this.name = config.name;
  }
  async start(): Promise<SourceAddress | null> {
    throw new Error('postgres sources are not built yet');
  }
  async stop(): Promise<void> {}
  status(): SourceStatus {
    return captureSourceStatus(this.name, this.kind, { received: 0, acknowledged: 0, rejected: 0, lastMessageAtMs: null }, initialCaptureStatus());
  }
}
