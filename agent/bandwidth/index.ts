// Bandwidth control on the agent's uplink: what other parts may use.
export { parseByteRate, formatByteRate } from './byte-rate.js';
export { TokenBucket, type TokenBucketOptions } from './token-bucket.js';
export { PriorityGate, type Grant, type GateWait, type PriorityGateOptions, type SendRequest } from './priority-gate.js';
export { RateMeter, DEFAULT_RATE_TIME_CONSTANT_MS } from './rate-meter.js';
export { batchBodyBudget, BATCH_TARGET_SECONDS, BATCH_SHARE_OF_IN_FLIGHT, type BatchBudgetInput } from './batch-budget.js';
export { wallClockAt, instantAt, isValidTimeZone, type WallClock } from './wall-clock.js';
export {
  policyAt,
  windowsInForceAt,
  boundarySecondsOfDay,
  parseDays,
  parseTimeOfDay,
  ALL_DAYS,
  SECONDS_PER_DAY,
  type BandwidthPolicy,
  type BlockedClass,
  type Timetable,
  type TimetableWindow,
} from './timetable.js';
export { TimetableScheduler, type TimetableSchedulerOptions, type TimetableSchedulerLogger } from './timetable-scheduler.js';
export {
  Uplink,
  DEFAULT_BURST_SECONDS,
  MIN_DEFAULT_BURST_BYTES,
  DEFAULT_IN_FLIGHT_SECONDS,
  MIN_DEFAULT_IN_FLIGHT_BYTES,
  UNLIMITED_DEFAULT_IN_FLIGHT_BYTES,
  type Permit,
  type UplinkOptions,
  type UplinkStatus,
} from './uplink.js';
export {
  BandwidthConfigSchema,
  DEFAULT_CLASSES,
  DEFAULT_FEED_CLASS,
  timetableOf,
  uplinkOptions,
  type BandwidthConfig,
} from './bandwidth-config.js';
export { InvalidRateError, InvalidTimetableError } from './errors.js';
