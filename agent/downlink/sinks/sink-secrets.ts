// The secrets and certificates a sink reads from files, once at config load
// beside every other secret file: the webhook's Standard Webhooks secret, the
// inbox database's password (both checked owner-only, as every secret file) and
// a TLS CA (not a secret: read, not permission-checked). A file that cannot be
// read, is empty or holds no usable secret stops the start naming the key.
import { readFileSync } from 'node:fs';
import { checkSecretFiles, ConfigError, type SecretFileCheck } from '../../../runtime/index.js';
import type { SinkConfig } from './sink-config.js';

export interface SinkSecrets {
  /** The webhook's "whsec_…" secret. */
  webhookSecret?: string;
  /** The inbox database's password. */
  databasePassword?: string;
  /** PEM of the CA that signed the HIS's or the webhook's certificate. */
  caPem?: string;
}

/** A Standard Webhooks secret: "whsec_" and base64 of 24 to 64 random bytes. */
const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

/**
 * Reads a sink's files. `key` is the sink's place in the config ("inbound[0].sink"),
 * `at` resolves a path from the config file's folder.
 */
export function loadSinkSecrets(sink: SinkConfig, key: string, at: (path: string) => string, configFile: string, secrets: SecretFileCheck): SinkSecrets {
  const fail = (problem: string): never => {
    throw new ConfigError(`invalid config:\n  ${problem}`, configFile, [problem]);
  };
  const read = (fileKey: string, path: string, secret: boolean): string => {
    const full = at(path);
    if (secret) checkSecretFiles(secrets, [[full, fileKey]], configFile);
    let text = '';
    try {
      text = readFileSync(full, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      fail(`${fileKey}: cannot read ${full}: ${(error as Error).message} (${configFile})`);
    }
    if (text === '') fail(`${fileKey}: ${full} is empty (${configFile})`);
    return text;
  };
  const out: SinkSecrets = {};
  switch (sink.kind) {
    case 'webhook': {
      const secret = read(`${key}.secretFile`, sink.secretFile, true).trim();
      if (!WEBHOOK_SECRET.test(secret)) {
        fail(`${key}.secretFile: expected a Standard Webhooks secret, "whsec_" and the base64 of 24 to 64 random bytes (e.g. "whsec_$(openssl rand -base64 32)") (${configFile})`);
      }
      out.webhookSecret = secret;
      if (sink.tls?.caFile !== undefined) out.caPem = read(`${key}.tls.caFile`, sink.tls.caFile, false);
      break;
    }
    case 'mllp':
      if (sink.tls?.caFile !== undefined) out.caPem = read(`${key}.tls.caFile`, sink.tls.caFile, false);
      break;
    case 'inbox':
      if (sink.connection.passwordFile !== undefined) out.databasePassword = read(`${key}.connection.passwordFile`, sink.connection.passwordFile, true);
      break;
  }
  return out;
}
