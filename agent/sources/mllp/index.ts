// The MLLP source: what the composition root, the config and the tests may use.
export {
  DEFAULT_MLLP_IDLE_TIMEOUT_MS,
  DEFAULT_MLLP_MAX_CONNECTIONS,
  DEFAULT_MLLP_MAX_PIPELINED_FRAMES,
  DEFAULT_MLLP_MAX_SEGMENTS,
  DEFAULT_MLLP_STOP_TIMEOUT_MS,
  MllpListener,
  type MllpListenerOptions,
  type MllpListenerStats,
} from './mllp-listener.js';
export { Hl7Intake, SLICE_FRAME_BYTES, type Answer, type Hl7IntakeCounts, type Hl7IntakeOptions, type MllpLogger, type Prepared, type PreparedMessage } from './hl7-intake.js';
export { DEFAULT_MLLP_MAX_BUFFERED_BYTES } from './mllp-byte-budget.js';
export { MLLP_LIMIT_KEYS, mllpLimitsProblem } from './mllp-limits-config.js';
export { Hl7MappingRuleSchema, MllpSourceConfigSchema, mllpListenerOptions, type Hl7MappingRuleConfig, type MllpSourceConfig } from './mllp-source-config.js';
export type { ControlIdReuse } from './control-id-reuse-log.js';
