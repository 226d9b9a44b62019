// A PostgreSQL server of the test's own: initdb into a temp dir, started on a free
// port with the settings change capture needs (wal_level=logical…), which the
// machine's shared server lacks. Run as the postgres user when the tests run as
// root (PostgreSQL refuses root). stop(), start() and kill() let a test restart or
// crash the server under a running agent.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';
import { giveToServer, launchServer, serverUser, type ServerUser } from './server-user.js';
import { makeTempDir } from './temp-dir.js';
import { until } from './until.js';

/** The newest PostgreSQL installed under /usr/lib/postgresql (Debian's layout). */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  if (versions.length === 0) throw new Error('no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)');
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0]!, 'bin');
}

const postgresUser = (): ServerUser => serverUser('postgres');

export interface ThrowawayPostgresOptions {
  /** Server settings (-c name=value) over the defaults below. */
  settings?: Record<string, string | number>;
}

/** The defaults: logical replication on, small and fast for tests (fsync off: the tests crash processes, not the machine). */
const DEFAULT_SETTINGS: Record<string, string | number> = {
  wal_level: 'logical',
  max_replication_slots: 10,
  max_wal_senders: 10,
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_buffers: '64MB',
  max_connections: 50,
};

export class ThrowawayPostgres {
  readonly host = '127.0.0.1';
  private child: ChildProcess | undefined;
  private readonly dir: { path: string; remove(): void };
  private readonly bin = postgresBin();

  private constructor(
    readonly port: number,
    private readonly settings: Record<string, string | number>,
  ) {
    this.dir = makeTempDir('wardline-pg-');
    giveToServer(postgresUser(), this.dir.path);
  }

  /** initdb and start; the superuser is `postgres` with trust authentication on 127.0.0.1. */
  static async create(options: ThrowawayPostgresOptions = {}): Promise<ThrowawayPostgres> {
    const server = new ThrowawayPostgres(await freePort(), { ...DEFAULT_SETTINGS, ...options.settings });
    execFileSync(join(server.bin, 'initdb'), ['-D', server.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], { stdio: 'pipe', cwd: server.dir.path, ...postgresUser() });
    await server.start();
    return server;
  }

  get dataDir(): string {
    return join(this.dir.path, 'data');
  }

  /** A connection string for `database` (default postgres) as `user` (default postgres). */
  url(database = 'postgres', user = 'postgres'): string {
    return `postgres://${user}@${this.host}:${this.port}/${database}`;
  }

  /** Starts the server (again) on the same port and data dir; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.child) return;
    const settings = Object.entries(this.settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    const args = ['-D', this.dataDir, '-p', String(this.port), '-k', this.dir.path, '-c', 'listen_addresses=127.0.0.1', ...settings];
    this.child = await launchServer({
      name: 'PostgreSQL',
      port: this.port,
      command: join(this.bin, 'postgres'),
      args,
      cwd: this.dir.path,
      user: postgresUser(),
      onExit: (child) => {
        if (this.child === child) this.child = undefined;
      },
      accepts: () =>
        this.query('SELECT 1').then(
          () => true,
          () => false,
        ),
    });
  }

  /** A clean shutdown (SIGINT: PostgreSQL's fast shutdown); the data stays for start(). */
  async stop(): Promise<void> {
    if (!this.child) return;
    const child = this.child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT'); // fast shutdown
    await exited;
  }

  /** SIGKILL of the postmaster (and, as PostgreSQL does on its death, its backends). */
  async kill(): Promise<void> {
    if (!this.child) return;
    const child = this.child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // Backends notice the postmaster's death and exit; wait for the port to be free.
    await until('the killed PostgreSQL to release its port', () => this.query('SELECT 1').then(() => false, () => true), (gone) => gone, { timeoutMs: 15_000 });
  }

  /** Runs SQL as the superuser on `database` (a new connection each time). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<pg.QueryResult<R>> {
    const client = new pg.Client({ connectionString: this.url(database), connectionTimeoutMillis: 2_000 });
    // The tests kill this server: a connection it drops (57P01) must fail the query, not crash the test process.
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await client.query<R>(sql, params);
    } finally {
      await client.end();
    }
  }

  /** A client connected as the superuser; the caller ends it. */
  async connect(database = 'postgres'): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url(database) });
    // A connection the server drops (a test killing it) surfaces as the next query's error.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** Stops the server and deletes its data dir. */
  async destroy(): Promise<void> {
    await this.stop();
    this.dir.remove();
  }
}
