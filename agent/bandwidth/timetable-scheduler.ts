// Applies the timetable as time passes: evaluates the policy in force now (pure,
// timetable.ts) at start and again at every window boundary, which node-cron
// triggers in the timetable's time zone.
//
// Failure modes handled:
//  1. A cron run that fires a little late (busy event loop): the policy is
//     evaluated at the later of now and the scheduled instant, so a boundary is
//     never evaluated as if it had not yet passed.
//  2. A run node-cron reports as missed (event loop blocked past its tolerance, or
//     the clock jumped): the policy is evaluated now instead of waiting a day.
//  3. stop() during a run: tasks are destroyed; a late callback applies nothing.
import cron, { type ScheduledTask } from 'node-cron';
import { boundarySecondsOfDay, policyAt, type BandwidthPolicy, type Timetable } from './timetable.js';

export interface TimetableSchedulerLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface TimetableSchedulerOptions {
  timetable: Timetable;
  /** Receives the policy in force: once at start, then at every window boundary. */
  apply: (policy: BandwidthPolicy) => void;
  log: TimetableSchedulerLogger;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
}

/** Re-evaluates the timetable at every window boundary (node-cron) and applies the policy. */
export class TimetableScheduler {
  private readonly clock: () => number;
  private tasks: ScheduledTask[] = [];
  private running = false;
  private lastWindows: string | undefined;

  constructor(private readonly options: TimetableSchedulerOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** Applies the policy in force now and schedules a re-evaluation at every boundary. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.evaluate(this.clock(), 'start');
    const { timetable, log } = this.options;
    const cronLog = {
      info: (message: string) => log.info({ part: 'node-cron' }, message),
      warn: (message: string) => log.warn({ part: 'node-cron' }, message),
      error: (message: string | Error, err?: Error) => log.error({ part: 'node-cron', err: err ?? message }, String(message)),
      debug: (message: string | Error) => log.debug({ part: 'node-cron' }, String(message)),
    };
    for (const second of boundarySecondsOfDay(timetable)) {
      const [h, m, s] = [Math.floor(second / 3600), Math.floor(second / 60) % 60, second % 60];
      const task = cron.schedule(`${s} ${m} ${h} * * *`, (context) => this.evaluate(Math.max(this.clock(), context.date.getTime()), 'window boundary'), {
        name: `wardline-bandwidth-${pad(h)}:${pad(m)}:${pad(s)}`,
        timezone: timetable.timeZone,
        logger: cronLog,
      });
      task.on('execution:missed', () => this.evaluate(this.clock(), 'missed window boundary'));
      this.tasks.push(task);
    }
  }

  /** Cancels every scheduled evaluation. */
  stop(): void {
    this.running = false;
    for (const task of this.tasks) void task.destroy();
    this.tasks = [];
  }

  private evaluate(atMs: number, trigger: string): void {
    if (!this.running) return;
    const policy = policyAt(this.options.timetable, atMs);
    const windows = policy.windowsInForce.join(',');
    if (windows !== this.lastWindows) {
      this.lastWindows = windows;
      this.options.log.info(
        {
          trigger,
          windowsInForce: policy.windowsInForce,
          rateBytesPerSecond: policy.rateBytesPerSecond,
          blockedClasses: policy.blocked.map((b) => b.class),
          nextChange: policy.nextChange && { at: new Date(policy.nextChange.atMs).toISOString(), description: policy.nextChange.description },
        },
        'bandwidth policy in force',
      );
    }
    this.options.apply(policy);
  }
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
