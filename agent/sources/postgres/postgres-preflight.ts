// The checks a PostgreSQL source makes on an ordinary connection before it
// creates a slot or reads a row, each failing with a CaptureSetupError that
// names the source, the table or setting, and the statement that fixes it:
// wal_level, the role's REPLICATION privilege, the publication and the tables
// in it (with the config's column lists and row filters), a primary key (or a
// configured key with REPLICA IDENTITY FULL) and column types Wardline maps.
import type pg from 'pg';
import { captureStream, CaptureSetupError, type CaptureLogger, type CaptureTableConfig } from '../database/index.js';
import { valueMapping, type ValueMapping } from './postgres-value.js';

export interface CapturedTableColumn {
  name: string;
  typeOid: number;
  /** format_type(): what a cast of a key value to this column's type names. */
  typeName: string;
  mapping: ValueMapping;
}

/** A configured table as the server has it. */
export interface CapturedTable {
  /** Index in the config's tables. */
  index: number;
  config: CaptureTableConfig;
  schema: string;
  name: string;
  /** "schema.table", as events' `table` header and the schema versions name it. */
  qualified: string;
  stream: string;
  /** The key columns, in key order. */
  key: string[];
  /** The captured columns (the config's list, or all), in table order. */
  columns: CapturedTableColumn[];
  /** pg_class.reltuples, null when the table was never analysed. */
  estimatedRows: number | null;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const qualifiedIdent = (table: Pick<CapturedTable, 'schema' | 'name'>): string => `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
export { quoteIdent };

/** The table clause of CREATE/ALTER PUBLICATION for a configured table. */
function publicationTable(table: CaptureTableConfig): string {
  const columns = table.columns ? ` (${table.columns.map(quoteIdent).join(', ')})` : '';
  const filter = table.filter ? ` WHERE (${table.filter})` : '';
  return `${table.table}${columns}${filter}`;
}

export async function preflight(
  client: Pick<pg.Client, 'query'>,
  source: { name: string; tables: readonly CaptureTableConfig[]; publication: string; user: string },
  log: CaptureLogger,
): Promise<CapturedTable[]> {
  const fail = (message: string): never => {
    throw new CaptureSetupError(source.name, message);
  };
  const walLevel = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0]!.wal_level;
  if (walLevel !== 'logical') {
    fail(`the server's wal_level is ${walLevel}, logical replication needs logical: run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL`);
  }
  const role = (await client.query<{ rolreplication: boolean; rolsuper: boolean }>('SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0];
  if (!role || (!role.rolreplication && !role.rolsuper)) {
    fail(`role ${source.user} may not replicate: run ALTER ROLE ${quoteIdent(source.user)} REPLICATION;`);
  }
  const keepSize = (await client.query<{ setting: string }>("SELECT current_setting('max_slot_wal_keep_size') AS setting")).rows[0]!.setting;
  if (keepSize === '-1') {
    log.warn(
      { source: source.name, setting: 'max_slot_wal_keep_size' },
      `source ${source.name}: max_slot_wal_keep_size is -1 (unlimited): while the agent is down the slot keeps every WAL segment and can fill the server's disk; set a budget, e.g. ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf();`,
    );
  }
  const createPublication = `CREATE PUBLICATION ${quoteIdent(source.publication)} FOR TABLE ${source.tables.map(publicationTable).join(', ')};`;
  const publication = (await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [source.publication])).rows[0];
  if (!publication) fail(`publication ${source.publication} does not exist: run ${createPublication}`);

  const tables: CapturedTable[] = [];
  for (const [index, config] of source.tables.entries()) {
    const rel = (
      await client.query<{ oid: number; schema: string; name: string; relreplident: string; reltuples: number; relkind: string }>(
        `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relreplident::text AS relreplident, c.reltuples::float8 AS reltuples, c.relkind::text AS relkind
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`,
        [config.table],
      )
    ).rows[0];
    if (!rel) {
      fail(`table ${config.table} does not exist in database (or is not visible to ${source.user}): create it, or fix tables[${index}].table`);
      return tables;
    }
    const qualified = `${rel.schema}.${rel.name}`;
    const attributes = (
      await client.query<{ name: string; type_oid: number; base_oid: number; typtype: string; type_name: string }>(
        `SELECT a.attname AS name, a.atttypid::int AS type_oid,
                CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END::int AS base_oid,
                (CASE WHEN t.typtype = 'd' THEN bt.typtype ELSE t.typtype END)::text AS typtype,
                format_type(a.atttypid, a.atttypmod) AS type_name
           FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [rel.oid],
      )
    ).rows;
    const primaryKey = (
      await client.query<{ name: string }>(
        `SELECT a.attname AS name FROM pg_index i
           JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) ON true
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
        [rel.oid],
      )
    ).rows.map((r) => r.name);
    let key: string[];
    if (config.key) {
      const missing = config.key.filter((k) => !attributes.some((a) => a.name === k));
      if (missing.length > 0) fail(`table ${qualified} has no column ${missing.join(', ')} named in tables[${index}].key: fix the key`);
      key = [...config.key];
      const sameAsPk = primaryKey.length === key.length && primaryKey.every((k, i) => k === key[i]);
      if (!sameAsPk && rel.relreplident !== 'f') {
        fail(
          `table ${qualified} has no primary key on (${key.join(', ')}) (the configured key), so deletes and updates would not carry it: run ALTER TABLE ${qualifiedIdent(rel)} REPLICA IDENTITY FULL;`,
        );
      }
    } else if (primaryKey.length === 0) {
      fail(
        `table ${qualified} has no primary key: add one (ALTER TABLE ${qualifiedIdent(rel)} ADD PRIMARY KEY (…);), or name the key columns in tables[${index}].key and run ALTER TABLE ${qualifiedIdent(rel)} REPLICA IDENTITY FULL;`,
      );
      return tables;
    } else {
      key = primaryKey;
    }
    if (config.columns) {
      const missing = config.columns.filter((c) => !attributes.some((a) => a.name === c));
      if (missing.length > 0) fail(`table ${qualified} has no column ${missing.join(', ')} listed in tables[${index}].columns: fix the list`);
      const keyMissing = key.filter((k) => !config.columns!.includes(k));
      if (keyMissing.length > 0) fail(`tables[${index}].columns of ${qualified} must include the key column ${keyMissing.join(', ')}: add it to the list`);
    }
    const columns: CapturedTableColumn[] = [];
    for (const attribute of attributes) {
      if (config.columns && !config.columns.includes(attribute.name)) continue;
      const mapping = valueMapping(attribute.base_oid, attribute.typtype);
      if (!mapping) {
        fail(
          `column ${qualified}.${attribute.name} has type ${attribute.type_name}, which Wardline does not map to JSON: leave it out with tables[${index}].columns (and the publication's column list), or capture a view that casts it to text`,
        );
        return tables;
      }
      columns.push({ name: attribute.name, typeOid: attribute.type_oid, typeName: attribute.type_name, mapping });
    }
    const published = (
      await client.query<{ attnames: string[] | null; rowfilter: string | null }>(
        'SELECT attnames::text[] AS attnames, rowfilter FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3',
        [source.publication, rel.schema, rel.name],
      )
    ).rows[0];
    if (!published) {
      fail(`publication ${source.publication} does not include table ${qualified}: run ALTER PUBLICATION ${quoteIdent(source.publication)} ADD TABLE ${publicationTable(config)};`);
      return tables;
    }
    if (config.columns) {
      const extra = (published.attnames ?? attributes.map((a) => a.name)).filter((c) => !config.columns!.includes(c));
      if (extra.length > 0) {
        fail(
          `publication ${source.publication} sends column ${extra.join(', ')} of ${qualified}, which tables[${index}].columns leaves out (it must not leave the database): run ALTER PUBLICATION ${quoteIdent(source.publication)} DROP TABLE ${config.table}; ALTER PUBLICATION ${quoteIdent(source.publication)} ADD TABLE ${publicationTable(config)};`,
        );
      }
    }
    if (config.filter && published.rowfilter === null) {
      fail(
        `publication ${source.publication} sends every row of ${qualified}, but tables[${index}].filter limits them: run ALTER PUBLICATION ${quoteIdent(source.publication)} DROP TABLE ${config.table}; ALTER PUBLICATION ${quoteIdent(source.publication)} ADD TABLE ${publicationTable(config)};`,
      );
    }
    tables.push({
      index,
      config,
      schema: rel.schema,
      name: rel.name,
      qualified,
      stream: captureStream(source.name, config),
      key,
      columns,
      estimatedRows: rel.reltuples >= 0 ? Math.round(rel.reltuples) : null,
    });
  }
  return tables;
}
