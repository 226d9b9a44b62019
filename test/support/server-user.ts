// The account a throwaway database server runs as. PostgreSQL refuses to run as
// root and MariaDB wants its own user, so when the tests run as root (CI does) the
// server, its init tool and its data dir belong to the package's system account;
// the spawn options carry uid/gid, so signals reach the server itself, not a wrapper.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync } from 'node:fs';

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
