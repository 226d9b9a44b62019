// Public surface of the simulated hospital: what `wardline demo`, the integration tests
// and the benchmarks may use.

export { SeededRandom, hashSeed, type Seed } from './seeded-random.js';
export {
  ChineseIdentityGenerator,
  DEFAULT_REFERENCE_DATE,
  MOBILE_PREFIXES,
  REGIONS,
  isValidResidentId,
  residentIdCheckCharacter,
  residentIdSex,
  type ChineseAddress,
  type ChineseIdentity,
  type ChineseIdentityGeneratorOptions,
  type PatientClass,
  type PersonName,
  type Region,
  type Sex,
} from './chinese-identity.js';
export {
  DEFAULT_CORPUS_START,
  DEFAULT_FACILITY,
  Hl7Corpus,
  MAX_MESSAGE_BYTES,
  MIN_MESSAGE_BYTES,
  escapeHl7,
  type CorpusMessage,
  type CorpusStream,
  type Hl7Charset,
  type Hl7CorpusOptions,
  type JsonRow,
  type JsonStream,
} from './hl7-corpus.js';
export {
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_RECONNECT_DELAY_MS,
  MllpSendError,
  MllpSender,
  parseAck,
  type AckCode,
  type AckResult,
  type MllpSenderCounters,
  type MllpSenderLog,
  type MllpSenderOptions,
  type MllpSenderState,
} from './mllp-sender.js';
export {
  DEFAULT_CONNECTIONS,
  DEFAULT_JSON_SHARE,
  DEFAULT_MAX_QUEUED_PER_CONNECTION,
  DEFAULT_STOP_DRAIN_MS,
  SimulatedHospital,
  type SimulatedHospitalOptions,
  type SimulatedHospitalStats,
  type SimulatorLogger,
} from './simulated-hospital.js';
export {
  ALL_FAULT_KINDS,
  FaultProxy,
  planFaults,
  type AppliedFault,
  type FaultKind,
  type FaultMode,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultScheduleOptions,
  type FaultScheduleRun,
  type PlannedFault,
} from './line/index.js';
export {
  DEFAULT_AE_TEXT,
  DEFAULT_SLOT_FIELDS,
  MllpHis,
  RANDOM_REFUSAL_REASON,
  SLOT_TAKEN_REASON,
  type MllpHisApplied,
  type MllpHisDecision,
  type MllpHisOptions,
  type MllpHisSlotFields,
  type MllpHisStats,
} from './his/index.js';
