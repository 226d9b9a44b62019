// Private keys and certificate signing requests (CSRs), made with the openssl
// command. The party that will hold a certificate makes its own key and sends
// only the CSR to the issuer, so a private key never travels: `wardline cert`
// does it on one machine for development, the installer will do it on the
// hospital's server when it enrols an agent with the relay.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOpenSsl, type OpenSslOptions } from './openssl-command.js';

/**
 * A new private key as PKCS#8 PEM: ECDSA on P-256, which every TLS stack
 * Wardline meets (Node, grpc-js, curl, Java, Go) accepts, and which is fast to
 * make and to handshake with.
 */
export async function generatePrivateKeyPem(options: OpenSslOptions = {}): Promise<string> {
  const pem = await runOpenSsl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'generating a private key', options);
  return pem.toString('utf8');
}

/**
 * A PEM CSR for `keyPem` with subject CN `commonName`. The issuer decides the
 * certificate's names and uses (it ignores what a CSR asks for), so the CSR
 * carries only the public key, its proof of possession and a CN for people.
 */
export async function createCertificateRequest(keyPem: string, commonName: string, options: OpenSslOptions = {}): Promise<string> {
  // The key goes to openssl through a private temporary file: never argv, and
  // stdin is not portable for `-key` across OpenSSL builds.
  const dir = mkdtempSync(join(tmpdir(), 'wardline-csr-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const configFile = join(dir, 'req.cnf');
    writeFileSync(keyFile, keyPem, { mode: 0o600 });
    // A config of our own, so the system's openssl.cnf cannot add names or extensions.
    writeFileSync(configFile, '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = placeholder\n');
    const csr = await runOpenSsl(
      ['req', '-new', '-key', keyFile, '-config', configFile, '-subj', `/CN=${escapeSubjectValue(commonName)}`, '-sha256'],
      'creating a certificate signing request',
      options,
    );
    return csr.toString('utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Escapes a value for openssl's `-subj /CN=value` syntax. */
export function escapeSubjectValue(value: string): string {
  return value.replace(/[\\/+=,]/g, (c) => `\\${c}`);
}
