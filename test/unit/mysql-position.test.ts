// The MySQL/MariaDB source's pure decisions: its saved position, GTID coverage
// (resume skips what the position covers), when the stream has reached a snapshot
// chunk's position, what a server error means, the retained binlog bytes, and key
// order and value shapes for the snapshot.
import { describe, expect, it } from 'vitest';
import { formatPosition, gtidCovered, parsePosition, positionReached, withGtid } from '../../agent/sources/mysql/mysql-position.js';
import { mysqlErrorKind } from '../../agent/sources/mysql/mysql-error-kind.js';
import { retainedBinlog } from '../../agent/sources/mysql/mysql-retained-binlog.js';
import { compareKeys, kindOfColumnType, valueOf, type CapturedTable } from '../../agent/sources/mysql/mysql-table.js';
import { HeldKeys } from '../../agent/sources/mysql/mysql-held-keys.js';

describe('mysql position', () => {
  it('round-trips and refuses what is not its own', () => {
    const position = { gtid: '0-1-42,1-2-7', file: 'binlog.000003', pos: 1234, captured: ['test.a'], snapshot: { tables: ['test.b', 'test.c'], after: ['9'], rowsCopied: 30 }, schemas: { 'test.t': [2, '3,15'] as [number, string] } };
    expect(parsePosition(formatPosition(position))).toEqual(position);
    expect(parsePosition('0/16B3748')).toBeUndefined();
    expect(parsePosition(undefined)).toBeUndefined();
  });

  it('covers a MariaDB GTID at or before its domain’s sequence, from the same server only', () => {
    expect(gtidCovered('0-1-42', '0-1-42')).toBe(true);
    expect(gtidCovered('0-1-42', '0-1-41')).toBe(true);
    expect(gtidCovered('0-1-42', '0-1-43')).toBe(false);
    expect(gtidCovered('0-1-42', '1-1-1')).toBe(false);
    expect(gtidCovered('0-1-42', '0-2-5')).toBe(false);
    expect(gtidCovered('', '0-1-1')).toBe(false);
  });

  it('covers a MySQL GTID inside its set', () => {
    const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    expect(gtidCovered(`${uuid}:1-27`, `${uuid}:27`)).toBe(true);
    expect(gtidCovered(`${uuid}:1-27`, `${uuid}:28`)).toBe(false);
    expect(positionReached(`${uuid}:1-30`, `${uuid}:1-27`)).toBe(true);
    expect(positionReached(`${uuid}:1-20`, `${uuid}:1-27`)).toBe(false);
  });

  it('has reached a snapshot position once every domain of it is reached', () => {
    expect(positionReached('0-1-10,1-1-5', '0-1-10')).toBe(true);
    expect(positionReached('0-1-9', '0-1-10')).toBe(false);
    expect(positionReached('0-1-10', '0-1-10,1-1-1')).toBe(false);
    expect(positionReached('0-1-99', '')).toBe(true);
    expect(positionReached('', '0-1-1')).toBe(false);
  });

  it('adds a DDL’s GTID to the position', () => {
    expect(withGtid('0-1-10,1-1-5', '0-1-11')).toBe('0-1-11,1-1-5');
    expect(withGtid('', '2-3-4')).toBe('2-3-4');
  });
});

describe('mysql error kinds', () => {
  it('tells setup, a purged position and a retry apart', () => {
    expect(mysqlErrorKind({ errno: 1045 })).toBe('setup');
    expect(mysqlErrorKind({ errno: 1227 })).toBe('setup');
    expect(mysqlErrorKind({ errno: 1236 })).toBe('position-lost');
    expect(mysqlErrorKind({ errno: 1955 })).toBe('position-lost');
    expect(mysqlErrorKind({ code: 'ECONNREFUSED' })).toBe('retry');
    expect(mysqlErrorKind(new Error('Connection lost'))).toBe('retry');
  });
});

describe('mysql retained binlog', () => {
  const logs = [
    { Log_name: 'binlog.000001', File_size: 1000 },
    { Log_name: 'binlog.000002', File_size: 500 },
    { Log_name: 'binlog.000003', File_size: '300' },
  ];
  it('counts the rest of the current file and every later one', () => {
    expect(retainedBinlog(logs, 'binlog.000002', 200)).toEqual({ bytes: 600, budgetBytes: null, status: 'binlog.000002', secondsToBudget: null });
    expect(retainedBinlog(logs, 'binlog.000003', 300)?.bytes).toBe(0);
    expect(retainedBinlog(logs, null, null)).toBeNull();
  });
});

describe('mysql table values', () => {
  const table = {
    key: ['id', 'code'],
    columns: [
      { name: 'id', type: 'bigint(20)', kind: 'bigint' },
      { name: 'code', type: 'varchar(10)', kind: 'text' },
    ],
  } as unknown as CapturedTable;

  it('orders keys as the server does for numbers (exactly) and binary text', () => {
    expect(compareKeys(table, ['9007199254740993', 'a'], ['9007199254740992', 'z'])).toBe(1);
    expect(compareKeys(table, ['10', 'a'], ['9', 'a'])).toBe(1);
    expect(compareKeys(table, ['10', 'a'], ['10', 'b'])).toBe(-1);
    expect(compareKeys(table, ['10', 'a'], ['10', 'a'])).toBe(0);
  });

  it('gives each column kind one shape whichever driver read it', () => {
    expect(kindOfColumnType('int(11) unsigned', false)).toBe('integer');
    expect(kindOfColumnType('longtext', true)).toBe('json');
    expect(kindOfColumnType('point', false)).toBeUndefined();
    expect(valueOf('bigint', 12)).toBe('12');
    expect(valueOf('decimal', '1.50')).toBe('1.50');
    expect(valueOf('binary', Buffer.from([1, 2]))).toBe('AQI=');
    expect(valueOf('date', new Date(Date.UTC(2024, 1, 29)))).toBe('2024-02-29');
    expect(valueOf('datetime', new Date(Date.UTC(2024, 1, 29, 13, 45, 1, 250)))).toBe('2024-02-29T13:45:01.250Z');
    expect(valueOf('json', '{"a":1}')).toEqual({ a: 1 });
    expect(valueOf('set', ['a', 'b'])).toBe('a,b');
    expect(valueOf('text', null)).toBeNull();
  });
});

describe('mysql held keys (rows gone while the binlog was lost)', () => {
  const table = { key: ['id'], columns: [{ name: 'id', type: 'int(11)', kind: 'integer' }] } as unknown as CapturedTable;
  const text = (key: unknown[]): string => String(key[0]);

  it('yields, chunk by chunk in key order, the held keys a chunk did not copy', () => {
    const held = new HeldKeys(table, ['10', '2', '7', '30', '1'], [1]);
    expect(held.gone([7], new Set(['2', '5']), text)).toEqual([[7]]);
    expect(held.gone([20], new Set(['10']), text)).toEqual([]);
    expect(held.gone(null, new Set(), text)).toEqual([[30]]);
    expect(held.gone(null, new Set(), text)).toEqual([]);
  });
});
