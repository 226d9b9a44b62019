// The agent's health: the disk budget (state, forecast), the watch that samples
// the data directory's filesystem, and the admission check they drive.
export {
  DiskBudget,
  DISK_STATE_LEVEL,
  DEFAULT_DISK_CRITICAL_AT_PERCENT,
  DEFAULT_DISK_FORECAST_WINDOW_MS,
  DEFAULT_DISK_HYSTERESIS_PERCENT,
  DEFAULT_DISK_WARN_AT_PERCENT,
  DEFAULT_MIN_FORECAST_SPAN_MS,
  describeDiskPressure,
  formatDiskBytes,
  nextDiskState,
  slopePerSecond,
  usedPercentOf,
  diskPressureKind,
  type DiskPressureKind,
  type DiskAssessment,
  type DiskBudgetOptions,
  type DiskBudgetSample,
  type DiskState,
  type DiskThresholds,
  type DiskUsage,
} from './disk-budget.js';
export type { DiskProbe, DiskReading } from './disk-probe.js';
export { SystemInformationDiskProbe } from './system-information-disk-probe.js';
export { DiskWatch, DEFAULT_DISK_PROBE_TIMEOUT_MS, DEFAULT_DISK_SAMPLE_INTERVAL_MS, type DiskWatchOptions, type DiskWatchStatus, type ArchiveFootprint } from './disk-watch.js';
export { createDiskAdmission, diskRefusal, type DiskAdmissionOptions, type DiskPressure } from './disk-admission.js';
export { DiskConfigSchema } from './disk-config.js';
export { diskBudgetOptions } from './disk-config.js';
