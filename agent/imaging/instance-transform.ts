// What a feed does to an archived instance before it leaves: an imaging feed with
// a de-identification policy (agent/policy/dicom) writes a de-identified copy of
// the instance into the archive and returns that copy's body; the blob shipper
// then ships the copy's chunks, never the original's. Deterministic: the same
// instance under the same policy and key gives the same bytes, so a resend after
// a crash ships nothing new.
import type { ImagingInstanceBody } from '../../protocol/index.js';

export type InstanceTransform = (original: ImagingInstanceBody) => Promise<ImagingInstanceBody>;
