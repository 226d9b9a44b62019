// The real DiskProbe: systeminformation's fsSize() (df underneath), narrowed to the
// filesystem that holds the data directory.
//
// Failure modes handled:
//  1. The data directory is a symlink (/var/lib/wardline -> /data/wardline): the
//     path is resolved first, so the mount found is the one the bytes land on.
//  2. Mount points that share a prefix (/data and /data2): a mount matches only on
//     a path boundary, and the longest match wins (/var/lib/wardline over /).
//  3. The data directory sits on a filesystem fsSize() does not list (it leaves
//     out tmpfs and other in-memory filesystems, so the longest prefix would be
//     "/", the wrong disk): the match is confirmed by device number, and without
//     a confirmed match the figures come from statfs(2) on the directory itself.
import { realpath, stat, statfs } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { fsSize } from 'systeminformation';
import type { DiskProbe, DiskReading } from './disk-probe.js';

export class SystemInformationDiskProbe implements DiskProbe {
  /** @param directory the agent's data directory; it must exist. */
  constructor(private readonly directory: string) {}

  async read(): Promise<DiskReading> {
    const dir = await realpath(this.directory);
    const [filesystems, dirStat] = await Promise.all([fsSize(), stat(dir)]);
    const candidates = filesystems
      .filter((f) => isWithin(dir, f.mount))
      .sort((a, b) => b.mount.length - a.mount.length);
    for (const candidate of candidates) {
      const mountStat = await stat(candidate.mount).catch(() => undefined);
      if (mountStat?.dev !== dirStat.dev) continue;
      return {
        mount: candidate.mount,
        filesystem: candidate.fs,
        type: candidate.type,
        totalBytes: candidate.size,
        usedBytes: candidate.used,
        freeBytes: candidate.available,
      };
    }
    return this.readWithStatfs(dir, dirStat.dev);
  }

  /** The same figures `df` computes, straight from statfs(2), for a filesystem fsSize() does not list. */
  private async readWithStatfs(dir: string, dev: number): Promise<DiskReading> {
    const fs = await statfs(dir);
    return {
      mount: await mountPointOf(dir, dev),
      filesystem: 'unknown',
      type: 'unknown',
      totalBytes: fs.blocks * fs.bsize,
      usedBytes: (fs.blocks - fs.bfree) * fs.bsize,
      freeBytes: fs.bavail * fs.bsize,
    };
  }
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
