// MySQL/MariaDB change capture: the row binlog by GTID. (Being built.)
import type { Source, SourceAddress, SourceStatus } from '../source.js';
import { captureSourceStatus, initialCaptureStatus, type CaptureSourceParts } from '../database/index.js';
import type { MysqlSourceConfig } from './mysql-source-config.js';

export class MysqlSource implements Source {
  readonly kind = 'mysql' as const;
  readonly name: string;
  constructor(
    readonly config: MysqlSourceConfig,
    readonly parts: CaptureSourceParts,
  ) {
    this.name = config.name;
  }
  async start(): Promise<SourceAddress | null> {
    throw new Error('mysql sources are not built yet');
  }
  async stop(): Promise<void> {}
  status(): SourceStatus {
    return captureSourceStatus(this.name, this.kind, { received: 0, acknowledged: 0, rejected: 0, lastMessageAtMs: null }, initialCaptureStatus());
  }
}
