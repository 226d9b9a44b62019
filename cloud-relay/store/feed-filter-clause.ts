// A vendor read's FeedFilter as the WHERE clause both backends add to their
// page, extent and prevSeq queries, so the filter is applied where the rows
// are and a page's limit counts matching events only. An absent filter, or one
// whose lists are all empty, gives no clause: the unfiltered queries stay
// exactly as they were.
import type { FeedFilter } from './feed-store.js';

/** A filter split into what SQL compares: streams, exact message types, message codes. Lists are never empty. */
export interface FeedFilterLists {
  streams?: string[];
  /** Entries holding "^": headers.messageType must equal one. */
  messageTypes?: string[];
  /** Entries without "^": the part of headers.messageType before its first "^" (or all of it) must equal one. */
  messageCodes?: string[];
}

/** The lists of `filter`, or undefined when it passes everything. */
export function feedFilterLists(filter: FeedFilter | undefined): FeedFilterLists | undefined {
  const streams = [...new Set(filter?.streams ?? [])];
  const types = [...new Set(filter?.messageTypes ?? [])];
  const lists: FeedFilterLists = {};
  if (streams.length > 0) lists.streams = streams;
  if (types.length > 0) {
    // Both lists or neither: a non-empty messageTypes must refuse an event without a message type.
    lists.messageTypes = types.filter((t) => t.includes('^'));
    lists.messageCodes = types.filter((t) => !t.includes('^'));
  }
  return lists.streams || lists.messageTypes ? lists : undefined;
}

/** A clause and its parameters, in order. */
export interface FilterClause {
  /** Starts with " AND "; a key of the statement's shape (the parameters vary, the text does not). */
  sql: string;
  params: string[];
}

// relay.db: headers is JSON text; json_each turns one parameter into the list.
const SQLITE_TYPE = "json_extract(headers, '$.messageType')";
const SQLITE_CODE = `CASE WHEN instr(${SQLITE_TYPE}, '^') > 0 THEN substr(${SQLITE_TYPE}, 1, instr(${SQLITE_TYPE}, '^') - 1) ELSE ${SQLITE_TYPE} END`;

/** The SQLite clause (positional `?` parameters, each a JSON array). */
export function sqliteFilterClause(lists: FeedFilterLists): FilterClause {
  let sql = '';
  const params: string[] = [];
  if (lists.streams) {
    sql += ' AND stream IN (SELECT value FROM json_each(?))';
    params.push(JSON.stringify(lists.streams));
  }
  if (lists.messageTypes) {
    const tests: string[] = [];
    if (lists.messageTypes.length > 0) {
      tests.push(`${SQLITE_TYPE} IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(lists.messageTypes));
    }
    if (lists.messageCodes && lists.messageCodes.length > 0) {
      tests.push(`${SQLITE_CODE} IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(lists.messageCodes));
    }
    sql += ` AND (${tests.join(' OR ')})`;
  }
  return { sql, params: params };
}

/** The PostgreSQL clause, its parameters numbered from `$first` (each a text[]), with `alias.` before the columns. */
export function postgresFilterClause(lists: FeedFilterLists, first: number, alias = ''): { sql: string; params: string[][] } {
  const type = `(${alias}headers::jsonb ->> 'messageType')`;
  let sql = '';
  const params: string[][] = [];
  const next = (list: string[]): string => {
    params.push(list);
    return `$${first + params.length - 1}::text[]`;
  };
  if (lists.streams) sql += ` AND ${alias}stream = ANY (${next(lists.streams)})`;
  if (lists.messageTypes) {
    const tests: string[] = [];
    if (lists.messageTypes.length > 0) tests.push(`${type} = ANY (${next(lists.messageTypes)})`);
    if (lists.messageCodes && lists.messageCodes.length > 0) tests.push(`split_part(${type}, '^', 1) = ANY (${next(lists.messageCodes)})`);
    sql += ` AND (${tests.join(' OR ')})`;
  }
  return { sql, params };
}
