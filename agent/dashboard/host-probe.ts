// Reads the host's CPU and memory for the dashboard. An interface so tests can
// hand in figures; SystemInformationHostProbe is the real one.
import { loadavg } from 'node:os';
import { currentLoad, mem } from 'systeminformation';

export interface HostReading {
  /** CPU busy over the interval since the previous reading, all cores, 0–100. */
  cpuPercent: number;
  cpuCores: number;
  /** The 1-minute load average; null where the OS has none (Windows). */
  load1: number | null;
  memoryTotalBytes: number;
  /** Memory in use by processes (systeminformation `active`: excludes buffers and cache). */
  memoryUsedBytes: number;
  /** Memory available to new work without swapping. */
  memoryAvailableBytes: number;
}

export interface HostProbe {
  read(): Promise<HostReading>;
}

export class SystemInformationHostProbe implements HostProbe {
  async read(): Promise<HostReading> {
    const [load, memory] = await Promise.all([currentLoad(), mem()]);
    const load1 = loadavg()[0];
    return {
      cpuPercent: Math.round(load.currentLoad * 10) / 10,
      cpuCores: load.cpus.length,
      load1: process.platform === 'win32' || load1 === undefined ? null : Math.round(load1 * 100) / 100,
      memoryTotalBytes: memory.total,
      memoryUsedBytes: memory.active,
      memoryAvailableBytes: memory.available,
    };
  }
}
