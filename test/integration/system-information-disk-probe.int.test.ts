// The real disk probe against real filesystems: this machine's disk, a loop-mounted
// ext4 image, and a tmpfs (which systeminformation does not list). The mounting
// parts need root; without it they are skipped and say why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, statfsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SystemInformationDiskProbe, isWithin } from '../../agent/health/system-information-disk-probe.js';
import { makeTempDir } from '../support/temp-dir.js';
import { mountTinyFilesystem, type TinyFilesystem } from '../support/tiny-filesystem.js';

/** What `df` itself says about the filesystem holding `dir`. */
function df(dir: string): { mount: string; totalBytes: number; freeBytes: number } {
  const line = execFileSync('df', ['-P', '-B1', dir], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const parts = line.split(/\s+/);
  return { totalBytes: Number(parts[1]), freeBytes: Number(parts[3]), mount: parts.slice(5).join(' ') };
}

describe('isWithin', () => {
  it('matches a mount on path boundaries only', () => {
    expect(isWithin('/var/lib/wardline', '/')).toBe(true);
    expect(isWithin('/var/lib/wardline', '/var/lib')).toBe(true);
    expect(isWithin('/var/lib', '/var/lib')).toBe(true);
    expect(isWithin('/data2/wardline', '/data')).toBe(false);
  });
});

describe('SystemInformationDiskProbe', () => {
  const dir = makeTempDir('wardline-probe-');
  let tiny: TinyFilesystem | undefined;
  let why = '';

  beforeAll(() => {
    const mounted = mountTinyFilesystem(dir.path, 24 * 1024 * 1024);
    tiny = mounted.fs;
    why = mounted.why ?? '';
  });
  afterAll(() => {
    tiny?.remove();
    dir.remove();
  });

  it('reads the filesystem holding a directory on this machine’s own disk, as df does', async () => {
    const data = join(dir.path, 'data');
    mkdirSync(data);
    const reading = await new SystemInformationDiskProbe(data).read();
    const expected = df(data);
    expect(reading.mount).toBe(expected.mount);
    expect(reading.totalBytes).toBe(expected.totalBytes);
    // Other processes write meanwhile: free space agrees within 1 % of the disk.
    expect(Math.abs(reading.freeBytes - expected.freeBytes)).toBeLessThan(expected.totalBytes / 100);
    expect(reading.usedBytes).toBeGreaterThan(0);
    expect(reading.filesystem).not.toBe('unknown');
  });

  it('finds a loop-mounted filesystem under the data path, through a symlink, and sees it fill', async (ctx) => {
    if (!tiny) return ctx.skip(why);
    const link = join(dir.path, 'link-to-tiny');
    symlinkSync(tiny.path, link);
    const probe = new SystemInformationDiskProbe(link);
    const empty = await probe.read();
    expect(empty.mount).toBe(tiny.path);
    expect(empty.filesystem).toMatch(/^\/dev\/loop/);
    expect(empty.type).toBe('ext4');
    expect(empty.totalBytes).toBe(df(tiny.path).totalBytes);

    tiny.ballast(8 * 1024 * 1024);
    const filled = await probe.read();
    expect(empty.freeBytes - filled.freeBytes).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    tiny.ballast(0);
  });

  it('falls back to statfs for a tmpfs, which systeminformation leaves out (the longest listed prefix would be the wrong disk)', async (ctx) => {
    const mountPoint = join(dir.path, 'tmpfs');
    mkdirSync(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      return ctx.skip(`cannot mount a tmpfs here: ${(error as Error).message.split('\n')[0]}`);
    }
    try {
      const data = join(mountPoint, 'wardline');
      mkdirSync(data);
      const reading = await new SystemInformationDiskProbe(data).read();
      expect(reading.mount).toBe(mountPoint);
      expect(reading.totalBytes).toBe(8 * 1024 * 1024);
      const fs = statfsSync(data);
      expect(reading.freeBytes).toBe(fs.bavail * fs.bsize);
    } finally {
      execFileSync('umount', [mountPoint], { stdio: 'pipe' });
    }
  });
});
