// The sources' part of agent.yaml: `sources[]` (one entry per source, by kind) and
// the rules that span them and the HTTP ingest source (`http.critical`).
import { z } from 'zod';
import { HTTP_SOURCE } from './http-ingest/index.js';
import { MllpSourceConfigSchema, type MllpSourceConfig } from './mllp/index.js';
import { mllpLimitsProblem } from './mllp/index.js';
import { MysqlSourceConfigSchema } from './mysql/index.js';
import { PostgresSourceConfigSchema } from './postgres/index.js';
import { SqlPollSourceConfigSchema } from './sql-poll/index.js';
import { DicomSourceConfigSchema } from './dicom/index.js';

export const SourceConfigSchema = z.discriminatedUnion('kind', [MllpSourceConfigSchema, PostgresSourceConfigSchema, MysqlSourceConfigSchema, SqlPollSourceConfigSchema, DicomSourceConfigSchema]);
export type SourceConfig = z.output<typeof SourceConfigSchema>;

/** `sources`: absent = none. */
export const SourcesConfigSchema = z.array(SourceConfigSchema).default([]);

/** Adds an issue per source whose name is taken (by another source or by the HTTP ingest source) or whose limits do not fit together. */
/** The MLLP sources among `sources`. */
export function mllpSources(sources: readonly SourceConfig[]): MllpSourceConfig[] {
  return sources.filter((s): s is MllpSourceConfig => s.kind === 'mllp');
}

export function refineSources(sources: readonly SourceConfig[], ctx: z.RefinementCtx): void {
  const sourceNames = new Set<string>();
  sources.forEach((source, i) => {
    if (sourceNames.has(source.name) || source.name === HTTP_SOURCE) {
      ctx.addIssue({ code: 'custom', path: ['sources', i, 'name'], message: `expected a source name not used elsewhere ("${HTTP_SOURCE}" is the ingest API)` });
    }
    sourceNames.add(source.name);
    const limits = source.kind === 'mllp' ? mllpLimitsProblem(source) : undefined;
    if (limits !== undefined) ctx.addIssue({ code: 'custom', path: ['sources', i, 'maxBufferedBytes'], message: limits });
  });
}

/** The sources still accepted when the disk is critical: those marked `critical`, and HTTP ingest with `http.critical`. */
export function criticalSourceNames(config: { sources: readonly SourceConfig[]; http: { critical: boolean } }): Set<string> {
  return new Set([...config.sources.filter((s) => s.critical).map((s) => s.name), ...(config.http.critical ? [HTTP_SOURCE] : [])]);
}
