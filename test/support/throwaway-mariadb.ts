// A MariaDB server of the test's own: mariadb-install-db into a temp dir, started
// on a free port with the row binlog and GTIDs change capture needs, which the
// machine's shared server lacks (log_bin=OFF). Run as the mysql user when the tests
// run as root. stop(), start() and kill() let a test restart or crash the server
// under a running agent; purgeBinlogs() removes what a replica might still need.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './free-port.js';
import { giveToServer, launchServer, serverUser, type ServerUser } from './server-user.js';
import { makeTempDir } from './temp-dir.js';
import { until } from './until.js';

const mysqlUser = (): ServerUser => serverUser('mysql');

export interface ThrowawayMariadbOptions {
  /** Server options (--name=value) over the defaults below. */
  settings?: Record<string, string | number>;
}

const DEFAULT_SETTINGS: Record<string, string | number> = {
  'log-bin': 'binlog',
  'binlog-format': 'ROW',
  'binlog-row-image': 'FULL',
  'server-id': 1,
  'innodb-flush-log-at-trx-commit': 2,
  'sync-binlog': 0,
  'innodb-buffer-pool-size': '64M',
  'skip-name-resolve': 'ON',
};

/** The user tests and agents connect as: all privileges, from 127.0.0.1, with this password. */
export const MARIADB_TEST_USER = 'wardline';
export const MARIADB_TEST_PASSWORD = 'wardline-test';

export class ThrowawayMariadb {
  readonly host = '127.0.0.1';
  private child: ChildProcess | undefined;
  private readonly dir: { path: string; remove(): void };

  private constructor(
    readonly port: number,
    private readonly settings: Record<string, string | number>,
  ) {
    this.dir = makeTempDir('wardline-mariadb-');
    const user = mysqlUser();
    // Its own tmpdir: two servers bootstrapping at once in the shared /tmp trip over
    // each other's temporary tables ("Unknown table 'mysql.tmp_user_sys'").
    mkdirSync(this.tmpDir);
    giveToServer(user, this.dir.path, this.tmpDir);
  }

  /** mariadb-install-db and start; creates MARIADB_TEST_USER with every privilege and database `test`. */
  static async create(options: ThrowawayMariadbOptions = {}): Promise<ThrowawayMariadb> {
    const server = new ThrowawayMariadb(await freePort(), { ...DEFAULT_SETTINGS, ...options.settings });
    execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${server.dataDir}`, `--tmpdir=${server.tmpDir}`, '--auth-root-authentication-method=normal', '--skip-test-db'], {
      stdio: 'pipe',
      cwd: server.dir.path,
      ...mysqlUser(),
    });
    await server.start();
    const admin = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    try {
      await admin.query(`CREATE USER '${MARIADB_TEST_USER}'@'%' IDENTIFIED BY '${MARIADB_TEST_PASSWORD}'`);
      await admin.query(`GRANT ALL PRIVILEGES ON *.* TO '${MARIADB_TEST_USER}'@'%' WITH GRANT OPTION`);
      await admin.query('CREATE DATABASE test');
    } finally {
      await admin.end();
    }
    return server;
  }

  get dataDir(): string {
    return join(this.dir.path, 'data');
  }

  get tmpDir(): string {
    return join(this.dir.path, 'tmp');
  }

  get socket(): string {
    return join(this.dir.path, 'mariadb.sock');
  }

  /** Starts the server (again) on the same port and data dir; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.child) return;
    const settings = Object.entries(this.settings).map(([k, v]) => `--${k}=${v}`);
    const args = ['--no-defaults', `--datadir=${this.dataDir}`, `--tmpdir=${this.tmpDir}`, `--port=${this.port}`, '--bind-address=127.0.0.1', `--socket=${this.socket}`, `--pid-file=${join(this.dir.path, 'mariadb.pid')}`, ...settings];
    this.child = await launchServer({
      name: 'MariaDB',
      port: this.port,
      command: '/usr/sbin/mariadbd',
      args,
      cwd: this.dir.path,
      user: mysqlUser(),
      onExit: (child) => {
        if (this.child === child) this.child = undefined;
      },
      accepts: () =>
        mysql.createConnection({ socketPath: this.socket, user: 'root' }).then(
          async (c) => (await c.end(), true),
          () => false,
        ),
    });
  }

  /** A clean shutdown (SIGTERM); the data stays for start(). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** SIGKILL of the server. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.child) return;
    const child = this.child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  /** Connection options for MARIADB_TEST_USER over TCP. */
  connectionOptions(database = 'test'): { host: string; port: number; user: string; password: string; database: string } {
    return { host: this.host, port: this.port, user: MARIADB_TEST_USER, password: MARIADB_TEST_PASSWORD, database };
  }

  /** Runs SQL as MARIADB_TEST_USER on `database` (a new connection each time). */
  async query<T = unknown>(sql: string, params: unknown[] = [], database = 'test'): Promise<T> {
    const connection = await mysql.createConnection(this.connectionOptions(database));
    try {
      const [rows] = await connection.query(sql, params);
      return rows as T;
    } finally {
      await connection.end();
    }
  }

  /** A connection as MARIADB_TEST_USER; the caller ends it. */
  connect(database = 'test'): Promise<mysql.Connection> {
    return mysql.createConnection(this.connectionOptions(database));
  }

  /**
   * Rotates the binlog and purges every file before the new one (a replica behind
   * them has lost its position). PURGE silently keeps a file still needed for crash
   * recovery (the binlog checkpoint moves on once InnoDB has flushed), so it is
   * repeated until only the new file is left.
   */
  async purgeBinlogs(): Promise<void> {
    await this.query('FLUSH BINARY LOGS');
    await until(
      'the binlog purged to its newest file',
      async () => {
        const rows = await this.query<{ Log_name: string }[]>('SHOW BINARY LOGS');
        await this.query(`PURGE BINARY LOGS TO '${rows[rows.length - 1]!.Log_name}'`);
        return (await this.query<unknown[]>('SHOW BINARY LOGS')).length;
      },
      (files) => files === 1,
      { timeoutMs: 20_000, pollMs: 200 },
    );
  }

  /** Stops the server and deletes its data dir. */
  async destroy(): Promise<void> {
    await this.stop();
    this.dir.remove();
  }
}
