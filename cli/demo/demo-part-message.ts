// What a demo part (relay, agent, simulated hospital), running as a child process,
// tells the demo over the IPC channel.
import type { InternetHospitalOptions, InternetHospitalStats, MllpHisStats, SimulatedHospitalOptions, SimulatedHospitalStats } from '../../simulator/index.js';

export type DemoPartName = 'relay' | 'agent' | 'hospital' | 'his' | 'internet-hospital';

export type DemoPartMessage =
  | { kind: 'ready'; ports: Record<string, number> }
  /** It could not start; portInUse when a port it needed was taken. */
  | { kind: 'failed'; message: string; portInUse?: number }
  | { kind: 'stats'; stats: SimulatedHospitalStats }
  | { kind: 'his-stats'; stats: MllpHisStats }
  | { kind: 'app-stats'; stats: InternetHospitalStats };

/** The simulated hospital's options as they cross the process boundary (JSON: no Date). */
export type DemoHospitalArgs = Omit<SimulatedHospitalOptions, 'startTime' | 'logger'>;

/** The simulated HIS (an HL7 filler over MLLP): its port (0 = any) and the share of bookings it refuses besides taken slots. */
export interface DemoHisArgs {
  port: number;
  refuseFraction: number;
  seed: string;
}

/** The simulated internet hospital's options as they cross the process boundary. */
export type DemoInternetHospitalArgs = Omit<InternetHospitalOptions, 'startTime' | 'log'>;

/** The port an EADDRINUSE names, anywhere in an error's cause chain; undefined for any other error. */
export function portInUse(error: unknown): number | undefined {
  for (let e = error as { code?: unknown; port?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 8; e = e.cause as typeof e, depth++) {
    if (e.code === 'EADDRINUSE' && typeof e.port === 'number') return e.port;
    const match = typeof (e as { message?: unknown }).message === 'string' ? /EADDRINUSE[^\d]*(?:[\d.]+:)?(\d+)/.exec((e as { message: string }).message) : null;
    if (match) return Number(match[1]);
  }
  return undefined;
}
