// The binlog as a replica reads it (zongji over mysql2), turned into records the
// source processes one at a time: a transaction's begin (its GTID), its row
// changes, its commit (with the GTID position and binlog file+offset after it),
// and DDL. Records are handed over synchronously as they arrive, with the values
// that are only coherent at that moment (zongji.gtidSet, options.position);
// pause()/resume() stop reading the socket so a slow journal holds the server back
// (TCP flow control) instead of filling memory.
//
// zongji cannot pause by itself; its binlog connection is a mysql2 Connection
// whose pause()/resume() stop and restart reading the socket. zongji also pauses
// that connection while it fetches a table's columns from information_schema and
// resumes it afterwards, so the source pauses again on the next record while its
// queue is still full (see MysqlSource.enqueue).
import ZongJi from '@vlasky/zongji';
import type { MysqlConnectionOptions } from './mysql-connection.js';

export interface DecodedColumn {
  name: string;
  type: string;
}

export type BinlogRecord =
  | { type: 'begin'; gtid: string | undefined; timestampMs: number }
  | { type: 'rows'; op: 'insert' | 'update' | 'delete'; database: string; table: string; columns: DecodedColumn[]; signature: string; rows: unknown[]; gtid: string | undefined }
  | { type: 'commit'; gtid: string | undefined; gtidSet: string | undefined; file: string | null; pos: number | null; timestampMs: number }
  | { type: 'ddl'; gtid: string | undefined; gtidSet: string | undefined; file: string | null; pos: number | null; query: string };

export interface BinlogReaderOptions {
  connection: MysqlConnectionOptions;
  serverId: number;
  /** Where to start: a GTID position/set ('' = the oldest binlog the server has). */
  gtid: string;
  /** database -> tables whose row events are decoded (others are skipped undecoded). */
  tables: Record<string, string[]>;
  onRecord(record: BinlogRecord): void;
  onError(error: Error): void;
}

interface AnyEvent {
  getEventName(): string;
  timestamp: number;
  nextPosition: number;
  gtid?: string;
  query?: string;
  tableId?: number;
  columnTypes?: number[];
  tableMap?: Record<number, { parentSchema: string; tableName: string; columnSchemas: { COLUMN_NAME: string; COLUMN_TYPE: string }[] }>;
  rows?: unknown[];
}

const EVENTS = ['mariadbgtid', 'gtid', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid', 'query', 'rotate'];

export class BinlogReader {
  private zongji: ZongJi | undefined;
  /** tableId -> the column types of its latest TABLE_MAP (a schema version's signature). */
  private readonly signatures = new Map<number, string>();

  constructor(private readonly options: BinlogReaderOptions) {}

  start(): void {
    const zongji = new ZongJi({ ...this.options.connection });
    this.zongji = zongji;
    zongji.on('error', (error: Error) => {
      if (this.zongji === zongji) this.options.onError(error);
    });
    zongji.on('binlog', (event: unknown) => {
      if (this.zongji === zongji) this.handle(zongji, event as AnyEvent);
    });
    zongji.start({ serverId: this.options.serverId, gtidSet: this.options.gtid, includeEvents: EVENTS, includeSchema: this.options.tables });
  }

  private handle(zongji: ZongJi, event: AnyEvent): void {
    const name = event.getEventName();
    const file = zongji.options.filename ?? null;
    const pos = zongji.options.position ?? null;
    switch (name) {
      case 'mariadbgtid':
      case 'gtid':
        this.options.onRecord({ type: 'begin', gtid: event.gtid, timestampMs: event.timestamp });
        return;
      case 'tablemap':
        this.signatures.set(event.tableId!, (event.columnTypes ?? []).join(','));
        return;
      case 'writerows':
      case 'updaterows':
      case 'deleterows': {
        const map = event.tableMap?.[event.tableId!];
        if (!map || !event.rows) return;
        this.options.onRecord({
          type: 'rows',
          op: name === 'writerows' ? 'insert' : name === 'updaterows' ? 'update' : 'delete',
          database: map.parentSchema,
          table: map.tableName,
          columns: map.columnSchemas.map((c) => ({ name: c.COLUMN_NAME, type: c.COLUMN_TYPE })),
          signature: `${this.signatures.get(event.tableId!) ?? ''}|${map.columnSchemas.map((c) => c.COLUMN_NAME).join(',')}`,
          rows: event.rows,
          gtid: event.gtid,
        });
        return;
      }
      case 'xid':
        this.options.onRecord({ type: 'commit', gtid: event.gtid, gtidSet: zongji.gtidSet, file, pos, timestampMs: event.timestamp });
        return;
      case 'query': {
        const query = (event.query ?? '').trim();
        const upper = query.toUpperCase();
        if (upper === 'BEGIN' || upper.startsWith('XA START') || upper.startsWith('XA END') || upper.startsWith('SAVEPOINT')) return;
        if (upper === 'COMMIT' || upper.startsWith('XA COMMIT')) {
          this.options.onRecord({ type: 'commit', gtid: event.gtid, gtidSet: zongji.gtidSet, file, pos, timestampMs: event.timestamp });
          return;
        }
        if (upper === 'ROLLBACK' || upper.startsWith('XA ROLLBACK')) return;
        // A statement of its own (DDL): its GTID is done once it is seen.
        this.options.onRecord({ type: 'ddl', gtid: event.gtid, gtidSet: zongji.gtidSet, file, pos, query });
        return;
      }
      default:
        return;
    }
  }

  pause(): void {
    this.zongji?.connection?.pause();
  }

  resume(): void {
    this.zongji?.connection?.resume();
  }

  /** Stops reading and closes both connections; resolves once zongji says so (or after 2 s). */
  async stop(): Promise<void> {
    const zongji = this.zongji;
    this.zongji = undefined;
    if (!zongji) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      zongji.once('stopped', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        zongji.stop();
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}
