// Reads the host's CPU and memory for the dashboard and the metrics. An interface so tests can
// hand in figures; SystemInformationHostProbe is the real one.
import { cpus, loadavg } from 'node:os';
import { mem } from 'systeminformation';

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

/** CPU time counters summed over all cores, in ms (os.cpus()). */
interface CpuTimes {
  busy: number;
  total: number;
}

function cpuTimes(): { times: CpuTimes; cores: number } {
  const cores = cpus();
  let busy = 0;
  let total = 0;
  for (const { times } of cores) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    busy += all - times.idle;
    total += all;
  }
  return { times: { busy, total }, cores: cores.length };
}

export class SystemInformationHostProbe implements HostProbe {
  private previous: CpuTimes = cpuTimes().times;

  async read(): Promise<HostReading> {
    // The CPU share comes from os.cpus() counters rather than systeminformation's
    // currentLoad(), which on Linux reads /proc/stat with execSync and so blocks
    // the event loop (every ACK) for tens of ms at each reading.
    const memory = await mem();
    const { times, cores } = cpuTimes();
    const elapsed = times.total - this.previous.total;
    const cpuPercent = elapsed > 0 ? ((times.busy - this.previous.busy) / elapsed) * 100 : 0;
    this.previous = times;
    const load1 = loadavg()[0];
    return {
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      cpuCores: cores,
      load1: process.platform === 'win32' || load1 === undefined ? null : Math.round(load1 * 100) / 100,
      memoryTotalBytes: memory.total,
      memoryUsedBytes: memory.active,
      memoryAvailableBytes: memory.available,
    };
  }
}
