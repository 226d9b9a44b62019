// What the composition root and the policy engine use of DICOM de-identification.
export { createDicomDeidentifier, DEFAULT_CACHE_ENTRIES, MAX_HEADER_BYTES, MAX_TRAILER_BYTES, type DicomDeidentifierOptions } from './dicom-deidentifier.js';
export { actionFor, profileRowFor, reduceAction, PROFILE_ROW_COUNT, type DeidAction, type ProfileAction, type ProfileOptions, type ProfileRow } from './confidentiality-profile.js';
export { methodOf } from './deidentify-dataset.js';
export { remapUid } from './uid-remap.js';
export { parsePrivateTagSpec, type PrivateTagSpec } from './private-tag-spec.js';
export { DicomDeidError, DicomDeidErrorCode } from './errors.js';
