// Each captured table's schema version: 1 for the first set of columns recorded,
// bumped whenever the columns Wardline captures differ (ADD COLUMN mid-stream, a
// DROP COLUMN while the agent was down, a changed type). Recorded on every event
// and saved in the position, so a restart compares against the last recorded set.
import { createHash } from 'node:crypto';

export interface CapturedColumn {
  name: string;
  typeOid: number;
}

export class SchemaVersions {
  private readonly tables: Map<string, [number, string]>;

  constructor(saved: Record<string, [number, string]>) {
    this.tables = new Map(Object.entries(saved));
  }

  /** The version for `table` with these columns, bumping it when they differ from the last recorded. */
  observe(table: string, columns: readonly CapturedColumn[]): number {
    const signature = createHash('sha256')
      .update(columns.map((c) => `${c.name}:${c.typeOid}`).join(','))
      .digest('hex')
      .slice(0, 16);
    const recorded = this.tables.get(table);
    if (recorded && recorded[1] === signature) return recorded[0];
    const version = (recorded?.[0] ?? 0) + 1;
    this.tables.set(table, [version, signature]);
    return version;
  }

  version(table: string): number | undefined {
    return this.tables.get(table)?.[0];
  }

  /** For the position JSON. */
  toJSON(): Record<string, [number, string]> {
    return Object.fromEntries(this.tables);
  }
}
