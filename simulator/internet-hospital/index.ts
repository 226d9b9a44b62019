// The internet-hospital app (互联网医院) that writes to a hospital through the relay's
// inbound API and follows the receipts.
export {
  DEFAULT_APP_PATIENTS,
  DEFAULT_APP_START_TIME,
  DEFAULT_SLOTS_PER_DOCTOR,
  INBOUND_EVENT_KINDS,
  InboundEventGenerator,
  type AppBooking,
  type AppEventBody,
  type AppPatient,
  type AppPayment,
  type AppRegistration,
  type GeneratedInboundEvent,
  type InboundEventGeneratorOptions,
  type InboundEventKind,
} from './inbound-event-generator.js';
export { DEFAULT_RECEIPT_LIMIT, DEFAULT_RECEIPT_WAIT_MS, ReceiptReader, type ReceiptReaderOptions, type VendorReceipt } from './receipt-reader.js';
export {
  DEFAULT_INTERNET_HOSPITAL_CONCURRENCY,
  DEFAULT_INTERNET_HOSPITAL_MAX_QUEUED,
  DEFAULT_POST_TIMEOUT_MS,
  InternetHospital,
  isRetryableStatus,
  summarize,
  type InboundPostRecord,
  type InternetHospitalOptions,
  type InternetHospitalStats,
  type LatencySummary,
} from './internet-hospital.js';
