// The account a throwaway database server runs as. PostgreSQL refuses to run as
// root and MariaDB wants its own user, so when the tests run as root (CI does) the
// server, its init tool and its data dir belong to the package's system account;
// the spawn options carry uid/gid, so signals reach the server itself, not a wrapper.
// launchServer() starts one and waits until it accepts connections.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync } from 'node:fs';
import { until } from './until.js';

export type ServerUser = { uid: number; gid: number } | Record<string, never>;

/** `account`'s uid and gid when the tests run as root; nothing (run as ourselves) otherwise. */
export function serverUser(account: string): ServerUser {
  if (process.getuid?.() !== 0) return {};
  return { uid: Number(execFileSync('id', ['-u', account]).toString()), gid: Number(execFileSync('id', ['-g', account]).toString()) };
}

/** Hands the directories to the server's account (readable by others, so the tests can look in). */
export function giveToServer(user: ServerUser, ...dirs: string[]): void {
  if (!('uid' in user)) return;
  for (const dir of dirs) {
    chmodSync(dir, 0o755);
    chownSync(dir, user.uid, user.gid);
  }
}

export interface ServerLaunch {
  /** "PostgreSQL", "MariaDB": named in the wait and in the error. */
  name: string;
  port: number;
  command: string;
  args: string[];
  cwd: string;
  user: ServerUser;
  /** Told when the process exits, whenever that is. */
  onExit: (child: ChildProcess) => void;
  /** True once the server answers a connection. */
  accepts: () => Promise<boolean>;
}

/**
 * Starts a server process as its account and resolves once it accepts connections;
 * a server that exits while starting fails the wait with the tail of its log.
 */
export async function launchServer(launch: ServerLaunch): Promise<ChildProcess> {
  const child = spawn(launch.command, launch.args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: launch.cwd, ...launch.user });
  let log = '';
  let exited = false;
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-5_000)));
  child.once('exit', () => {
    exited = true;
    launch.onExit(child);
  });
  await until(
    `throwaway ${launch.name} on port ${launch.port} to accept connections`,
    async () => {
      if (exited) throw new Error(`${launch.name} exited while starting:\n${log}`);
      return launch.accepts();
    },
    (ok) => ok,
    { timeoutMs: 30_000, describe: () => log },
  );
  return child;
}
