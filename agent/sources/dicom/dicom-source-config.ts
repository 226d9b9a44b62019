// A DICOM source's entry in agent.yaml (`sources[i]` with kind: dicom): a Storage
// SCP the modalities and the PACS send to as they already do (C-ECHO, C-STORE).
import { z } from 'zod';
import { IMAGING_STREAM, NameSchema, StreamNameSchema } from '../../../protocol/index.js';
import { hostPortSchema } from '../../../runtime/index.js';

/** The DICOM port modalities are configured with by default (PS3.15 registered: 11112). */
export const DEFAULT_DICOM_PORT = 11112;
/** The AE title the agent answers to unless configured. */
export const DEFAULT_DICOM_AE_TITLE = 'WARDLINE';

/** An AE title: 1–16 characters of the default repertoire, no backslash, not only spaces (PS3.5 6.2). */
export const AeTitleSchema = z
  .string()
  .regex(/^[\x20-\x5b\x5d-\x7e]{1,16}$/, 'expected an AE title of 1 to 16 printable ASCII characters without a backslash')
  .refine((title) => title.trim().length > 0, 'an AE title cannot be only spaces')
  .transform((title) => title.trim());

export const DicomSourceConfigSchema = z.strictObject({
  kind: z.literal('dicom'),
  name: NameSchema,
  listen: hostPortSchema().prefault(`0.0.0.0:${DEFAULT_DICOM_PORT}`),
  /** The called AE title the SCP accepts associations for. */
  aeTitle: AeTitleSchema.default(DEFAULT_DICOM_AE_TITLE),
  /** Calling AE titles accepted; empty = any (the hospital's firewall decides who can connect). */
  acceptCallingAeTitles: z.array(AeTitleSchema).default([]),
  /** The journal stream its instances go to. */
  stream: StreamNameSchema.default(IMAGING_STREAM),
  /** Still accepted when the disk is critical. */
  critical: z.boolean().default(false),
});
export type DicomSourceConfig = z.output<typeof DicomSourceConfigSchema>;
