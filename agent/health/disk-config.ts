// The `disk:` section of agent.yaml: when the data directory's disk counts as
// warning or critical (see disk-budget.ts), how often it is read, and the
// conversion to the budget's and the watch's options.
import { z } from 'zod';
import { byteSizeSchema, durationSchema } from '../../runtime/index.js';
import {
  DEFAULT_DISK_CRITICAL_AT_PERCENT,
  DEFAULT_DISK_FORECAST_WINDOW_MS,
  DEFAULT_DISK_HYSTERESIS_PERCENT,
  DEFAULT_DISK_WARN_AT_PERCENT,
  formatDiskBytes,
  type DiskBudgetOptions,
} from './disk-budget.js';
import { DEFAULT_DISK_SAMPLE_INTERVAL_MS } from './disk-watch.js';

export const DiskConfigSchema = z
  .strictObject({
    warnAtPercent: z.number().gt(0).max(100).default(DEFAULT_DISK_WARN_AT_PERCENT),
    criticalAtPercent: z.number().gt(0).max(100).default(DEFAULT_DISK_CRITICAL_AT_PERCENT),
    warnAtFreeBytes: byteSizeSchema().optional(),
    criticalAtFreeBytes: byteSizeSchema().optional(),
    hysteresisPercent: z.number().min(0).max(20).default(DEFAULT_DISK_HYSTERESIS_PERCENT),
    sampleIntervalMs: durationSchema({ minMs: 100 }).default(DEFAULT_DISK_SAMPLE_INTERVAL_MS),
    forecastWindowMs: durationSchema({ minMs: 1000 }).default(DEFAULT_DISK_FORECAST_WINDOW_MS),
  })
  .superRefine((disk, ctx) => {
    if (disk.criticalAtPercent <= disk.warnAtPercent) {
      ctx.addIssue({ code: 'custom', path: ['criticalAtPercent'], message: `expected more than warnAtPercent (${disk.warnAtPercent})` });
    }
    if (disk.hysteresisPercent >= disk.warnAtPercent) {
      ctx.addIssue({ code: 'custom', path: ['hysteresisPercent'], message: `expected less than warnAtPercent (${disk.warnAtPercent}), or warning could never clear` });
    }
    if (disk.warnAtFreeBytes !== undefined && disk.criticalAtFreeBytes !== undefined && disk.criticalAtFreeBytes >= disk.warnAtFreeBytes) {
      ctx.addIssue({ code: 'custom', path: ['criticalAtFreeBytes'], message: `expected fewer bytes than warnAtFreeBytes (${formatDiskBytes(disk.warnAtFreeBytes)})` });
    }
  });

export type DiskConfig = z.output<typeof DiskConfigSchema>;

/** The disk budget's options: the thresholds and the forecast window. */
export function diskBudgetOptions(disk: DiskConfig): DiskBudgetOptions {
  return {
    thresholds: {
      warnAtPercent: disk.warnAtPercent,
      criticalAtPercent: disk.criticalAtPercent,
      warnAtFreeBytes: disk.warnAtFreeBytes,
      criticalAtFreeBytes: disk.criticalAtFreeBytes,
      hysteresisPercent: disk.hysteresisPercent,
    },
    forecastWindowMs: disk.forecastWindowMs,
  };
}
