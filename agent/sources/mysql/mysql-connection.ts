// The options every connection of a MySQL/MariaDB source uses, so the binlog
// (zongji, on mysql2) and the snapshot's SELECTs decode values alike: DATETIME and
// TIMESTAMP as UTC, DECIMAL as exact strings, BIGINT as strings beyond 2^53.
import mysql from 'mysql2/promise';
import type { DatabaseConnectionConfig } from '../database/index.js';

export interface MysqlConnectionOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  connectTimeout: number;
  timezone: 'Z';
  supportBigNumbers: true;
  bigNumberStrings: true;
  dateStrings: false;
  decimalNumbers: false;
}

export function mysqlConnectionOptions(connection: DatabaseConnectionConfig, password: string | undefined): MysqlConnectionOptions {
  return {
    host: connection.host,
    port: connection.port,
    user: connection.user,
    password,
    database: connection.database,
    connectTimeout: connection.connectTimeout * 1000,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: false,
    decimalNumbers: false,
  };
}

/** A query connection in UTC (TIMESTAMP text is rendered in the session's zone). */
export async function openQueryConnection(options: MysqlConnectionOptions): Promise<mysql.Connection> {
  const connection = await mysql.createConnection(options);
  // A dropped connection emits 'error'; the caller learns of it from its next query.
  connection.on('error', () => {});
  await connection.query("SET time_zone = '+00:00'");
  return connection;
}
