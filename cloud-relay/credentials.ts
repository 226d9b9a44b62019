// Turns the config's hospitals[] and vendors[] into the secrets the relay checks,
// reading secretFile / keyFile once at start. Errors are ConfigErrors naming the
// key and the config file, and never echo a secret.
import { readFileSync } from 'node:fs';
import { ConfigError, type SecretFileCheck } from '../runtime/index.js';
import { MIN_SECRET_LENGTH, type RelayConfig } from './config.js';
import { secretDigest } from './secret-digest.js';

/** A hospital whose agent may replicate to this relay. */
export interface HospitalCredential {
  id: string;
  name?: string;
  /** The shared secret the agent must present in Hello; undefined: the client certificate alone identifies the agent (mutual TLS). */
  secret?: string;
}

/** What one vendor key may do at one hospital: read feeds, and write to inbound channels (and read their receipts). */
export interface VendorGrant {
  hospital: string;
  feeds: readonly string[];
  /** Inbound channels; absent = none. */
  inbound?: readonly string[];
}

export interface VendorCredential {
  name: string;
  key: string;
  grants: readonly VendorGrant[];
}

export interface RelayCredentials {
  hospitals: HospitalCredential[];
  vendors: VendorCredential[];
  /** SHA-256 of the operator token (http.operatorTokenFile / operatorTokenSha256); undefined: operator endpoints are closed. */
  operatorTokenDigest?: Buffer;
}

/** Resolves every secret in the config; `source` is the config file (or a label) for error messages. */
export function loadCredentials(config: RelayConfig, source: string, secrets?: SecretFileCheck): RelayCredentials {
  const problems: string[] = [];
  const secretAt = (path: string, inline: string | undefined, file: string | undefined): string => {
    if (inline === undefined && secrets && !secrets.check(file!, `${path}File`, source, problems)) return '';
    const secret = inline ?? readSecretFile(file!, `${path}File`, source, problems);
    if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
      problems.push(`${path}${inline === undefined ? `File (${file})` : ''}: expected at least ${MIN_SECRET_LENGTH} characters, got ${secret.length} (${source})`);
    }
    return secret ?? '';
  };

  const hospitals = config.hospitals.map((h, i) => ({
    id: h.id,
    ...(h.name === undefined ? {} : { name: h.name }),
    // Without either, the config schema has checked that mutual TLS identifies the agent.
    ...(h.secret === undefined && h.secretFile === undefined ? {} : { secret: secretAt(`hospitals[${i}].secret`, h.secret, h.secretFile) }),
  }));
  const vendors = config.vendors.map((v, i) => ({
    name: v.name,
    key: secretAt(`vendors[${i}].key`, v.key, v.keyFile),
    grants: v.grants.map((g) => ({ hospital: g.hospital, feeds: [...new Set(g.feeds)], inbound: [...new Set(g.inbound)] })),
  }));

  // Two vendors with one key would make a request's grants ambiguous.
  const keyOwner = new Map<string, number>();
  vendors.forEach((v, i) => {
    const owner = keyOwner.get(v.key);
    if (owner !== undefined && v.key !== '') {
      problems.push(`vendors[${i}].key: the same key as vendors[${owner}] (${config.vendors[owner]?.name}); every vendor needs its own key (${source})`);
    }
    keyOwner.set(v.key, i);
  });

  const { operatorTokenFile, operatorTokenSha256 } = config.http;
  const operatorToken = operatorTokenFile === undefined ? undefined : secretAt('http.operatorToken', undefined, operatorTokenFile);
  const operatorTokenDigest = operatorToken !== undefined ? secretDigest(operatorToken) : operatorTokenSha256 !== undefined ? Buffer.from(operatorTokenSha256, 'hex') : undefined;

  if (problems.length > 0) {
    throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`, source, problems);
  }
  return { hospitals, vendors, ...(operatorTokenDigest ? { operatorTokenDigest } : {}) };
}

function readSecretFile(file: string, key: string, source: string, problems: string[]): string | undefined {
  try {
    // One trailing newline is what editors and `echo` add; it is never part of the secret.
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    problems.push(`${key}: cannot read ${JSON.stringify(file)}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message} (${source})`);
    return undefined;
  }
}
