// A real, tiny filesystem for tests that need a disk to fill up: an ext4 image of
// a few MB, loop-mounted. Needs root and a loop device; where either is missing
// (CI containers, developer laptops) the helpers say why and return undefined, and
// the test falls back to what it can do without.
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface TinyFilesystem {
  /** Where it is mounted. */
  path: string;
  /**
   * Writes `bytes` of ballast into one file on it (fsynced), replacing earlier
   * ballast; stops quietly when the filesystem is full (pass Infinity to fill it).
   */
  ballast(bytes: number): void;
  /** Unmounts it and deletes the image. */
  remove(): void;
}

/**
 * Makes an ext4 filesystem of `sizeBytes` in `dir` and mounts it at `dir/mnt`.
 * No blocks are reserved for root (-m 0), so what df calls available is all of it.
 */
export function mountTinyFilesystem(dir: string, sizeBytes: number): { fs?: TinyFilesystem; why?: string } {
  const image = join(dir, 'tiny.ext4');
  const mountPoint = join(dir, 'mnt');
  try {
    writeFileSync(image, '');
    truncateSync(image, sizeBytes);
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image], { stdio: 'pipe' });
    mkdirSync(mountPoint);
    execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'pipe' });
  } catch (error) {
    rmSync(image, { force: true });
    rmSync(mountPoint, { recursive: true, force: true });
    return { why: `cannot loop-mount an ext4 image here: ${(error as Error).message.split('\n')[0]}` };
  }
  const ballastFile = join(mountPoint, 'ballast');
  return {
    fs: {
      path: mountPoint,
      ballast(bytes) {
        rmSync(ballastFile, { force: true });
        if (bytes <= 0) return;
        const fd = openSync(ballastFile, 'w');
        try {
          const chunk = Buffer.alloc(1024 * 1024, 0x5a);
          for (let left = bytes; left > 0; left -= chunk.length) {
            try {
              writeSync(fd, chunk, 0, Math.min(chunk.length, left));
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      },
      remove() {
        try {
          execFileSync('umount', [mountPoint], { stdio: 'pipe' });
        } catch {
          execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
        }
        rmSync(image, { force: true });
        rmSync(mountPoint, { recursive: true, force: true });
      },
    },
  };
}
