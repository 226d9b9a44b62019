// The real DiskProbe: the filesystem that holds the data directory, named once by
// systeminformation's fsSize() (df underneath), then measured by statfs(2).
//
// Failure modes handled:
//  1. The data directory is a symlink (/var/lib/wardline -> /data/wardline): the
//     path is resolved first, so the mount found is the one the bytes land on.
//  2. Mount points that share a prefix (/data and /data2): a mount matches only on
//     a path boundary, and the longest match wins (/var/lib/wardline over /).
//  3. The data directory sits on a filesystem fsSize() does not list (it leaves
//     out tmpfs and other in-memory filesystems, so the longest prefix would be
//     "/", the wrong disk): the match is confirmed by device number, and without
//     a confirmed match the mount is found by walking up to the device boundary.
//  4. Event-loop stalls: on Linux fsSize() runs `cat /proc/mounts` with execSync,
//     blocking every ACK for 10–30 ms. It runs once, to name the filesystem; the
//     periodic figures come from statfs(2), which is asynchronous.
import { realpath, stat, statfs } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { fsSize } from 'systeminformation';
import type { DiskProbe, DiskReading } from './disk-probe.js';

type FilesystemIdentity = Pick<DiskReading, 'mount' | 'filesystem' | 'type'>;

export class SystemInformationDiskProbe implements DiskProbe {
  private identity: { dir: string; dev: number; name: FilesystemIdentity } | undefined;

  /** @param directory the agent's data directory; it must exist. */
  constructor(private readonly directory: string) {}

  async read(): Promise<DiskReading> {
    const dir = await realpath(this.directory);
    const dirStat = await stat(dir);
    // Named again only if the directory moved to another filesystem (remounted, relinked).
    if (this.identity?.dir !== dir || this.identity.dev !== dirStat.dev) {
      this.identity = { dir, dev: dirStat.dev, name: await identify(dir, dirStat.dev) };
    }
    // The same figures `df` computes.
    const fs = await statfs(dir);
    return {
      ...this.identity.name,
      totalBytes: fs.blocks * fs.bsize,
      usedBytes: (fs.blocks - fs.bfree) * fs.bsize,
      freeBytes: fs.bavail * fs.bsize,
    };
  }
}

/** The mount, device and type of the filesystem on device `dev` that holds `dir`. */
async function identify(dir: string, dev: number): Promise<FilesystemIdentity> {
  const candidates = (await fsSize()).filter((f) => isWithin(dir, f.mount)).sort((a, b) => b.mount.length - a.mount.length);
  for (const candidate of candidates) {
    const mountStat = await stat(candidate.mount).catch(() => undefined);
    if (mountStat?.dev === dev) return { mount: candidate.mount, filesystem: candidate.fs, type: candidate.type };
  }
  return { mount: await mountPointOf(dir, dev), filesystem: 'unknown', type: 'unknown' };
}

/** True when `path` is `mount` or lies below it (on a path boundary). */
export function isWithin(path: string, mount: string): boolean {
  if (path === mount) return true;
  return path.startsWith(mount.endsWith(sep) ? mount : mount + sep);
}

/** The highest ancestor of `dir` on the same device: where its filesystem is mounted. */
async function mountPointOf(dir: string, dev: number): Promise<string> {
  let current = dir;
  for (;;) {
    const parent = dirname(current);
    if (parent === current) return current;
    const parentStat = await stat(parent).catch(() => undefined);
    if (parentStat?.dev !== dev) return current;
    current = parent;
  }
}
