// Why a source refused its last message, as a stable code: the dashboard
// translates it (i18n.js `rejection.<kind>`) and shows the source's own English
// text beside it, which names the field, limit or client.

/** Every kind a source's last rejection may carry; `other` for anything unforeseen. */
export const REJECTION_KINDS = [
  'segment-sequence',
  'required-field-missing',
  'data-type',
  'table-value-not-found',
  'unsupported-message-type',
  'unsupported-version',
  'disk-full',
  'frame-limit',
  'frame-too-large',
  'unauthorized',
  'forbidden',
  'bad-content-type',
  'bad-request',
  'too-large',
  'internal',
  'other',
] as const;
export type RejectionKind = (typeof REJECTION_KINDS)[number];

/** HL7 table 0357 codes the agent answers with (agent/hl7 Hl7ErrorCode), by kind. */
const HL7_CODE_KINDS: Readonly<Record<string, RejectionKind>> = {
  '100': 'segment-sequence',
  '101': 'required-field-missing',
  '102': 'data-type',
  '103': 'table-value-not-found',
  '200': 'unsupported-message-type',
  '203': 'unsupported-version',
  '207': 'internal',
};

/** The kind of an HL7 error code in an AE/AR the agent sent. */
export function hl7RejectionKind(hl7Code: string | undefined): RejectionKind {
  return (hl7Code !== undefined && HL7_CODE_KINDS[hl7Code]) || 'other';
}

/** HTTP ingest error codes (the `error.code` of the JSON answer), by kind. */
const HTTP_CODE_KINDS: Readonly<Record<string, RejectionKind>> = {
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  unsupported_media_type: 'bad-content-type',
  bad_op: 'bad-request',
  bad_request: 'bad-request',
  too_large: 'too-large',
  // The admission check refuses only for a critically full disk (agent/health).
  refused: 'disk-full',
  internal: 'internal',
};

/** The kind of an HTTP ingest refusal, from the error code it answered with. */
export function httpRejectionKind(code: string): RejectionKind {
  return HTTP_CODE_KINDS[code] ?? 'other';
}
