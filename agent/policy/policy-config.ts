// The policy keys of agent.yaml as zod schemas: `keys`, `localOnly` and each feed's
// `policy`. agent/config.ts composes them into the agent's schema; paths are parsed
// here so a mistyped path fails at start naming the key, not at the first batch.
import { z } from 'zod';
import { durationSchema } from '../../runtime/index.js';
import { isHl7PolicyPathText, parseHl7PolicyPath } from './hl7-policy-rules.js';
import { parseJsonPolicyPath } from './json-policy-rules.js';
import { DEFAULT_ACTIONS, FIELD_ACTIONS, KEY_ACTIONS } from './policy-action.js';
import { parsePrivateTagSpec } from './dicom/index.js';

/** Retired keys are kept this long after their rotation (decrypting older data), then purged: 365 days. */
export const DEFAULT_RETAIN_RETIRED_MS = 365 * 86_400_000;
/** What a field no rule names gets under a policy: it does not leave. */
export const DEFAULT_POLICY_DEFAULT = 'drop' as const;
/** What happens to event keys under a policy: pseudonymised (ADT events are keyed by the MRN). */
export const DEFAULT_POLICY_KEY = 'hash' as const;

/** Checks that a text is an HL7 path (`PID-5`) or a JSON path (`$.name`); returns the problem or undefined. */
export function fieldPathProblem(text: string): string | undefined {
  try {
    if (isHl7PolicyPathText(text)) parseHl7PolicyPath(text);
    else if (text.startsWith('$')) parseJsonPolicyPath(text);
    else return `"${text}" is neither an HL7 path (PID-5, PID-3[2].1, OBX-5, NTE) nor a JSON path ($.name, $.ids[*].value)`;
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

const fieldPathList = z.array(z.string()).superRefine((paths, ctx) => {
  paths.forEach((path, i) => {
    const problem = fieldPathProblem(path);
    if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
  });
});

/** `keys:` the hospital-held keys (see keyring.ts). */
export const KeysConfigSchema = z.strictObject({
  /** Directory holding keyring.json and one file per key; relative to the config file. */
  dir: z.string().min(1),
  /** How long a retired key is kept for decrypting after its rotation ("365d"); `wardline keys rotate` purges older ones. */
  retainRetired: durationSchema().default(DEFAULT_RETAIN_RETIRED_MS),
});

/** `localOnly:` what can never leave, whatever a feed says. */
export const LocalOnlyConfigSchema = z.strictObject({
  /** Streams no feed may name. */
  streams: z.array(z.string().min(1)).default([]),
  /** Per stream, fields every feed carrying the stream must drop (HL7 or JSON paths). */
  fields: z.record(z.string().min(1), fieldPathList).default({}),
});

/** `feeds[].policy.streams.<stream>:` rules for one stream. */
export const StreamPolicyConfigSchema = z
  .strictObject({
    /** The event key; default the policy's `key`. */
    key: z.enum(KEY_ACTIONS).optional(),
    /** Fields no rule names; default the policy's `default`. */
    default: z.enum(DEFAULT_ACTIONS).optional(),
    /** Path → action; the most specific path wins (see hl7-policy-rules.ts, json-policy-rules.ts). */
    fields: z.record(z.string(), z.enum(FIELD_ACTIONS)).default({}),
  })
  .superRefine((stream, ctx) => {
    for (const path of Object.keys(stream.fields)) {
      const problem = fieldPathProblem(path);
      if (problem) ctx.addIssue({ code: 'custom', path: ['fields', path], message: problem });
    }
  });

/**
 * `feeds[].policy.dicom:` de-identification of the DICOM instances a feed carries
 * (blob-ref events), per PS3.15 Annex E: the Basic Application Level
 * Confidentiality Profile with the options named here. Pixel data is never changed.
 */
export const DicomPolicyConfigSchema = z.strictObject({
  profile: z.literal('basic').default('basic'),
  /** Retain Longitudinal Temporal Information with Full Dates Option (keep dates and times). */
  retainLongitudinalDates: z.boolean().default(false),
  /** Retain UIDs Option (keep the original UIDs instead of remapping them). */
  retainUids: z.boolean().default(false),
  /** Retain Device Identity Option (keep station name, device serial number, ...). */
  retainDeviceIdentity: z.boolean().default(false),
  /** Retain Patient Characteristics Option (keep sex, age, size, weight, ...). */
  retainPatientCharacteristics: z.boolean().default(false),
  /** Private attributes kept as they are ("(0019,\"GEMS_ACQU_01\",10)" or "(0019,1010)"); every other private attribute is removed. */
  keepPrivateTags: z
    .array(z.string())
    .default([])
    .superRefine((entries, ctx) => {
      // Checked here, so a bad entry fails the start naming its key and file, not when the first instance ships.
      entries.forEach((entry, i) => {
        try {
          parsePrivateTagSpec(entry);
        } catch (error) {
          ctx.addIssue({ code: 'custom', path: [i], message: (error as Error).message });
        }
      });
    }),
});
export type DicomPolicyConfig = z.output<typeof DicomPolicyConfigSchema>;

/** `feeds[].policy:` how a feed's events are shaped before they leave. */
export const FeedPolicyConfigSchema = z.strictObject({
  /** Fields no rule names: `drop` (default: only what the hospital listed leaves) or `keep`. */
  default: z.enum(DEFAULT_ACTIONS).default(DEFAULT_POLICY_DEFAULT),
  /** Event keys: `hash` (default), `keep` or `encrypt`. */
  key: z.enum(KEY_ACTIONS).default(DEFAULT_POLICY_KEY),
  /** Count resident IDs and mobile numbers in what still leaves in clear; reported in GET /v1/status. */
  scan: z.boolean().default(false),
  streams: z.record(z.string(), StreamPolicyConfigSchema).default({}),
  /** De-identify the DICOM instances the feed carries. Absent: a blob-ref event follows its stream's default (keep: the instance leaves as received; drop: its body leaves empty and no instance is shipped). */
  dicom: DicomPolicyConfigSchema.optional(),
});

export type KeysConfig = z.output<typeof KeysConfigSchema>;
export type LocalOnlyConfig = z.output<typeof LocalOnlyConfigSchema>;
export type StreamPolicyConfig = z.output<typeof StreamPolicyConfigSchema>;
export type FeedPolicyConfig = z.output<typeof FeedPolicyConfigSchema>;

/** A feed as the policy engine needs it from the config. */
export interface PolicyFeedConfig {
  name: string;
  streams: string[];
  /** Absent: the feed passes events through unchanged (policy version 0). */
  policy?: FeedPolicyConfig;
}

/** Cross-checks zod cannot express per field: a policy's streams must be the feed's. */
export function refineFeedPolicy(feed: PolicyFeedConfig, index: number, ctx: z.RefinementCtx): void {
  if (!feed.policy) return;
  for (const stream of Object.keys(feed.policy.streams)) {
    if (!feed.streams.includes(stream)) {
      ctx.addIssue({
        code: 'custom',
        path: ['feeds', index, 'policy', 'streams', stream],
        message: `expected one of the feed's streams (${feed.streams.join(', ')}); a policy for a stream the feed does not carry is a typo`,
      });
    }
  }
}
