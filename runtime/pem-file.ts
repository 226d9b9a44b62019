// Reads the PEM files a TLS config names (certificates, private keys, CA bundles)
// and checks them at start, so a wrong path, a key given where a certificate was
// expected, or a key that does not belong to its certificate is a config error
// naming the key and the file, not a handshake that fails later without a reason.
// Agent, relay and the vendor CLI read their TLS files the same way.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecretFileCheck } from './secret-file-check.js';

/** A certificate file (the first certificate is the leaf; the rest may be its chain). */
export interface CertificateFile {
  file: string;
  pem: Buffer;
  /** The first certificate in the file. */
  certificate: X509Certificate;
}

export interface PrivateKeyFile {
  file: string;
  pem: Buffer;
  key: KeyObject;
}

/**
 * Reads a PEM certificate (or CA bundle) named by config key `key`. On failure
 * pushes `key: what is wrong (source)` onto `problems` and returns undefined.
 */
export function readCertificateFile(file: string, key: string, source: string, problems: string[]): CertificateFile | undefined {
  const pem = readFile(file, key, source, problems);
  if (pem === undefined) return undefined;
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    const looksLikeKey = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString('latin1'));
    problems.push(`${key}: ${JSON.stringify(file)} is not a PEM certificate${looksLikeKey ? ' (it holds a private key: is it the keyFile?)' : ''} (${source})`);
    return undefined;
  }
  try {
    return { file, pem, certificate: new X509Certificate(pem) };
  } catch (cause) {
    problems.push(`${key}: ${JSON.stringify(file)} holds a certificate that cannot be parsed: ${(cause as Error).message} (${source})`);
    return undefined;
  }
}

/**
 * Reads an unencrypted PEM private key named by config key `key`; problems as
 * readCertificateFile. With `secrets`, a key file others can read is refused (or
 * warned about) as that check says.
 */
export function readPrivateKeyFile(file: string, key: string, source: string, problems: string[], secrets?: SecretFileCheck): PrivateKeyFile | undefined {
  if (secrets && !secrets.check(file, key, source, problems)) return undefined;
  const pem = readFile(file, key, source, problems);
  if (pem === undefined) return undefined;
  const text = pem.toString('latin1');
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type: 4,ENCRYPTED/.test(text)) {
    // A service cannot type a passphrase at start; the file's permissions protect it instead.
    problems.push(`${key}: ${JSON.stringify(file)} is encrypted; give an unencrypted key readable only by the service user (openssl pkey -in <file> -out <new file>) (${source})`);
    return undefined;
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    const looksLikeCertificate = text.includes('-----BEGIN CERTIFICATE-----');
    problems.push(`${key}: ${JSON.stringify(file)} is not a PEM private key${looksLikeCertificate ? ' (it holds a certificate: is it the certFile?)' : ''} (${source})`);
    return undefined;
  }
  try {
    return { file, pem, key: createPrivateKey(pem) };
  } catch (cause) {
    problems.push(`${key}: ${JSON.stringify(file)} holds a private key that cannot be parsed: ${(cause as Error).message} (${source})`);
    return undefined;
  }
}

/** Pushes a problem unless `key` is the private key of `certificate`'s public key. */
export function checkKeyPair(certificate: CertificateFile, key: PrivateKeyFile, certKey: string, keyKey: string, source: string, problems: string[]): void {
  if (!certificate.certificate.checkPrivateKey(key.key)) {
    problems.push(`${keyKey}: the key in ${JSON.stringify(key.file)} does not belong to the certificate in ${certKey} (${JSON.stringify(certificate.file)}) (${source})`);
  }
}

/**
 * Why a certificate is not usable at `nowMs` (not yet valid, or expired), or
 * undefined when it is. Milliseconds since the epoch.
 */
export function certificateValidityProblem(certificate: X509Certificate, nowMs: number): string | undefined {
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  if (nowMs < notBefore) return `not valid before ${new Date(notBefore).toISOString()} (check this machine's clock)`;
  if (nowMs > notAfter) return `expired on ${new Date(notAfter).toISOString()}`;
  return undefined;
}

function readFile(file: string, key: string, source: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (cause) {
    problems.push(`${key}: cannot read ${JSON.stringify(file)}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message} (${source})`);
    return undefined;
  }
}
