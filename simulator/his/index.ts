// The simulated hospital information systems the downlink delivers into: an HL7
// filler over MLLP and a system that polls an inbox table.
export { buildHisAnswer, type HisAnswer, type HisAnswerCode } from './his-answer.js';
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
} from './mllp-his.js';
export {
  DEFAULT_INBOX_POLL_MS,
  DEFAULT_INBOX_TABLE,
  InboxHis,
  createTableSql,
  type InboxHisApplied,
  type InboxHisDatabase,
  type InboxHisDecision,
  type InboxHisOptions,
  type InboxHisStats,
} from './inbox-his.js';
