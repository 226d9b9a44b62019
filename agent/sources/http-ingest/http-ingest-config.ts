// The HTTP ingest source's part of agent.yaml, under `http` (it shares the agent's
// HTTP listener): `critical`, and the local applications' keys (clients,
// anonymousApps, ingest: local-app-config.ts). The source's name is fixed.
import { z } from 'zod';
import { localAppConfigShape } from './local-app-config.js';

/** The source name recorded on events ingested over HTTP (`http:<client>` for a named local application); no `sources[]` entry may take it. */
export const HTTP_SOURCE = 'http';

/** The config keys, for the http section of the agent's schema. */
export const httpIngestConfigShape = {
  /** POST /v1/ingest is still accepted when the disk is critical. */
  critical: z.boolean().default(false),
  /** clients, anonymousApps, ingest: who may use /v1/records and /v1/ingest, and the bounds of a row (local-app-config.ts). */
  ...localAppConfigShape,
};
