// The `bandwidth:` section of agent.yaml as a schema: the type is derived from it
// and its windows are already the timetable's own shape; timetableOf and
// uplinkOptions turn the section into the scheduler's and the uplink's options,
// so the composition root hands them on without translating. examples/agent.yaml
// documents every key.
import { z } from 'zod';
import { byteSizeSchema } from '../../runtime/index.js';
import { parseByteRate } from './byte-rate.js';
import { ALL_DAYS, SECONDS_PER_DAY, parseDays, parseTimeOfDay, policyAt, type Timetable, type TimetableWindow } from './timetable.js';
import type { UplinkOptions } from './uplink.js';
import { isValidTimeZone } from './wall-clock.js';
import { NameSchema } from '../../protocol/index.js';

/** Priority classes when the config declares none, highest first. */
export const DEFAULT_CLASSES: readonly string[] = ['clinical', 'standard', 'bulk'];
/** The class of a feed that names none. */
export const DEFAULT_FEED_CLASS = 'standard';

const className = NameSchema;

/** A rate: "20Mbit/s", "2.5MB/s", a number of bytes per second, or "unlimited" (null). */
export function rateSchema() {
  return z.any().transform((value: unknown, ctx): number | null => {
    if (typeof value !== 'number' && typeof value !== 'string') {
      ctx.addIssue({ code: 'custom', message: 'expected a rate such as "20Mbit/s" or "2.5MB/s", a number of bytes per second, or "unlimited"' });
      return z.NEVER;
    }
    try {
      return parseByteRate(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

function positiveByteSize() {
  return byteSizeSchema().refine((bytes) => bytes > 0, 'expected at least 1 byte');
}

function timeOfDaySchema(endOfDay: boolean) {
  return z.any().transform((value: unknown, ctx): number => {
    try {
      if (typeof value !== 'string') throw new Error('expected a time of day such as "08:00" or "22:30:00", quoted');
      return parseTimeOfDay(value, { endOfDay });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

const daysSchema = z.any().transform((value: unknown, ctx): number[] => {
  try {
    if (typeof value !== 'string' && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
      throw new Error('expected days such as "mon-fri", [sat, sun] or "daily"');
    }
    return parseDays(value as string | string[]);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const WindowSchema = z
  .strictObject({
    name: NameSchema,
    days: daysSchema.optional(),
    from: timeOfDaySchema(false).optional(),
    to: timeOfDaySchema(true).optional(),
    rate: rateSchema().optional(),
    classes: z.array(className).min(1).optional(),
    allow: z.boolean().optional(),
  })
  .superRefine((w, ctx) => {
    if ((w.classes === undefined) !== (w.allow === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [w.classes === undefined ? 'classes' : 'allow'],
        message: 'expected classes and allow together (allow: true lets those classes send only during this window; allow: false holds them back during it)',
      });
    }
    if (w.rate === undefined && w.classes === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected rate, or classes with allow: this window changes nothing' });
    }
    if ((w.from ?? 0) === (w.to ?? SECONDS_PER_DAY)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'expected a time other than from (a whole day is from "00:00" to "24:00")' });
    }
  })
  .transform(
    (w): TimetableWindow => ({
      name: w.name,
      days: w.days ?? ALL_DAYS,
      fromSecond: w.from ?? 0,
      toSecond: w.to ?? SECONDS_PER_DAY,
      ...(w.rate !== undefined && { rateBytesPerSecond: w.rate }),
      ...(w.classes !== undefined && w.allow !== undefined && { classRule: { classes: w.classes, allow: w.allow } }),
    }),
  );

export const BandwidthConfigSchema = z
  .strictObject({
    /** The uplink's limit outside any window that sets one; default unlimited. */
    rate: rateSchema().prefault('unlimited'),
    /** Most bytes sent at once after an idle spell; default 0.5 s of the rate in force. */
    burstBytes: positiveByteSize().optional(),
    /** Unacknowledged compressed bytes across all feeds; default 1 s of the rate in force (at least 64 KiB), 1 MiB when unlimited. */
    maxInFlightBytes: positiveByteSize().optional(),
    /** Priority classes, highest first; default clinical, standard, bulk. */
    classes: z
      .array(className)
      .min(1)
      .default([...DEFAULT_CLASSES]),
    /** IANA zone of the timetable's times; default the machine's. */
    timezone: z.string().refine(isValidTimeZone, 'expected an IANA time zone such as "Asia/Shanghai"').optional(),
    timetable: z.array(WindowSchema).default([]),
  })
  .superRefine((b, ctx) => {
    b.classes.forEach((name, i) => {
      if (b.classes.indexOf(name) !== i) ctx.addIssue({ code: 'custom', path: ['classes', i], message: 'expected a class not listed before' });
    });
    const windowNames = new Set<string>();
    b.timetable.forEach((window, i) => {
      if (windowNames.has(window.name)) ctx.addIssue({ code: 'custom', path: ['timetable', i, 'name'], message: 'expected a window name not used by another window' });
      windowNames.add(window.name);
      window.classRule?.classes.forEach((name, j) => {
        if (!b.classes.includes(name)) {
          ctx.addIssue({ code: 'custom', path: ['timetable', i, 'classes', j], message: `expected one of the classes under bandwidth.classes (${b.classes.join(', ')})` });
        }
      });
    });
  });

export type BandwidthConfig = z.output<typeof BandwidthConfigSchema>;

/** The timetable the section describes; without a timezone, the machine's. */
export function timetableOf(bandwidth: BandwidthConfig): Timetable {
  return {
    baseRateBytesPerSecond: bandwidth.rate,
    classes: bandwidth.classes,
    windows: bandwidth.timetable,
    timeZone: bandwidth.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
}

/** The uplink's options, starting with the policy in force at `nowMs`. */
export function uplinkOptions(bandwidth: BandwidthConfig, nowMs: number): UplinkOptions {
  const timetable = timetableOf(bandwidth);
  return {
    classes: timetable.classes,
    burstBytes: bandwidth.burstBytes,
    maxInFlightBytes: bandwidth.maxInFlightBytes,
    policy: policyAt(timetable, nowMs),
    timeZone: timetable.timeZone,
  };
}
