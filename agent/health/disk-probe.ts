// What the disk watch needs from the operating system: one reading of the
// filesystem that holds the data directory. The real implementation asks
// systeminformation (SystemInformationDiskProbe); tests that need a disk in a state
// this machine's disk is not in hand in a probe of their own.
import type { DiskUsage } from './disk-budget.js';

/** One reading of the filesystem holding a directory. */
export interface DiskReading extends DiskUsage {
  /** Where that filesystem is mounted, e.g. "/var/lib/wardline" or "/". */
  mount: string;
  /** The device or source, e.g. "/dev/sdb1"; "unknown" when the system does not say. */
  filesystem: string;
  /** The filesystem type, e.g. "ext4", "xfs"; "unknown" when the system does not say. */
  type: string;
}

export interface DiskProbe {
  /** Reads the filesystem holding the directory the probe was made for. Rejects when it cannot. */
  read(): Promise<DiskReading>;
}
