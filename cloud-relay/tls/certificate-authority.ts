// A small certificate authority for Wardline's transport security, run with the
// openssl command: a development CA (a directory holding ca.crt and ca.key), the
// relay's server certificate, and one client certificate per hospital, whose
// subjectAltName URI `urn:wardline:hospital:<id>` is the agent's identity.
//
// signClientCsr is the one place a hospital certificate is signed; enrolment
// (an agent sending a CSR to the relay) will call it too. It takes only the
// public key from a CSR and decides the names and uses itself, so a requester
// can never ask for another hospital's name, a server name or a CA bit.
//
// For production, a hospital group may prefer its own PKI: the relay accepts any
// CA in tls.clientCaFile, reading the hospital id from the URI or the subject CN.
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hospitalIdentityUri } from '../../protocol/index.js';
import { OpenSslFailedError, createCertificateRequest, escapeSubjectValue, generatePrivateKeyPem, runOpenSsl, runOpenSslWithOutput, type OpenSslOptions } from '../../runtime/index.js';
import { NAME_PATTERN } from '../../protocol/index.js';
import { CertificateAuthorityError, CertificateNameError, CsrRejectedError } from './errors.js';

/** The CA certificate in a CA directory (and copied beside every certificate issued, for the peer to trust). */
export const CA_CERT_FILE = 'ca.crt';
/** The CA private key in a CA directory; mode 0600. */
export const CA_KEY_FILE = 'ca.key';
export const SERVER_CERT_FILE = 'server.crt';
export const SERVER_KEY_FILE = 'server.key';
export const CLIENT_CERT_FILE = 'client.crt';
export const CLIENT_KEY_FILE = 'client.key';

/** A development CA is valid this long, in days (10 years). */
export const DEFAULT_CA_VALIDITY_DAYS = 3650;
/** Server and client certificates are valid this long, in days (825, the longest many TLS clients accept). */
export const DEFAULT_CERTIFICATE_VALIDITY_DAYS = 825;
export const DEFAULT_CA_COMMON_NAME = 'Wardline development CA';
/** RSA keys in CSRs shorter than this are refused, in bits. */
export const MIN_RSA_KEY_BITS = 2048;

const DAY_MS = 86_400_000;
const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const CA_COMMON_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,63}$/;
const ACCEPTED_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

export interface IssueOptions extends OpenSslOptions {
  /** Validity in days; default DEFAULT_CERTIFICATE_VALIDITY_DAYS (DEFAULT_CA_VALIDITY_DAYS for a CA), never past the CA's own end. */
  days?: number;
  /** Replace key and certificate files that already exist; default false. */
  force?: boolean;
}

/** What was written. Paths are absolute. */
export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  /** The CA certificate the peer must trust (the CA's own file for a CA). */
  caFile: string;
  subject: string;
  /** The subjectAltNames, as Node renders them (`DNS:relay.example, IP Address:127.0.0.1`). */
  subjectAltName: string;
  /** ISO 8601. */
  notAfter: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
}

/** Creates a CA in `dir`: ca.key (0600) and ca.crt. Refuses to replace an existing CA unless `force`. */
export async function createCertificateAuthority(dir: string, options: IssueOptions & { commonName?: string } = {}): Promise<IssuedCertificate> {
  const commonName = options.commonName ?? DEFAULT_CA_COMMON_NAME;
  if (!CA_COMMON_NAME.test(commonName)) {
    throw new CertificateNameError(`CA name ${JSON.stringify(commonName)}: expected 1-64 letters, digits, spaces, ".", "_", "(", ")" or "-"`, commonName);
  }
  const days = validityDays(options.days ?? DEFAULT_CA_VALIDITY_DAYS);
  const out = prepareOutput(dir, [CA_KEY_FILE, CA_CERT_FILE], options.force ?? false);
  const keyPem = await generatePrivateKeyPem(options);
  const certPem = await withScratch(async (scratch) => {
    const keyFile = scratch.write('ca.key', keyPem, 0o600);
    const configFile = scratch.write(
      'ca.cnf',
      [
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        'CN = placeholder',
        '[v3_ca]',
        // pathlen:0 — this CA signs end-entity certificates only, never another CA.
        'basicConstraints = critical, CA:TRUE, pathlen:0',
        'keyUsage = critical, keyCertSign, cRLSign',
        'subjectKeyIdentifier = hash',
        '',
      ].join('\n'),
    );
    const pem = await runOpenSsl(
      ['req', '-x509', '-new', '-key', keyFile, '-config', configFile, '-extensions', 'v3_ca', '-subj', `/O=Wardline/CN=${escapeSubjectValue(commonName)}`, '-days', String(days), '-sha256', '-set_serial', randomSerial()],
      'creating the CA certificate',
      options,
    );
    return pem.toString('utf8');
  });
  writePrivateKey(join(out, CA_KEY_FILE), keyPem);
  writeFileSync(join(out, CA_CERT_FILE), certPem, { mode: 0o644 });
  return describeIssued(join(out, CA_CERT_FILE), join(out, CA_KEY_FILE), join(out, CA_CERT_FILE));
}

/**
 * Issues the relay's server certificate into `outDir` (server.crt, server.key
 * 0600, and a copy of ca.crt): for every DNS name and IP address agents and
 * vendors will dial. Needs at least one name.
 */
export async function issueServerCertificate(
  caDir: string,
  outDir: string,
  names: { dnsNames: readonly string[]; ipAddresses: readonly string[] },
  options: IssueOptions = {},
): Promise<IssuedCertificate> {
  for (const name of names.dnsNames) {
    if (!DNS_NAME.test(name) || name.length > 253) throw new CertificateNameError(`--name ${JSON.stringify(name)}: expected a DNS name such as relay.example.cn`, name);
  }
  for (const ip of names.ipAddresses) {
    if (isIP(ip) === 0) throw new CertificateNameError(`--ip ${JSON.stringify(ip)}: expected an IPv4 or IPv6 address such as 127.0.0.1`, ip);
  }
  const commonName = names.dnsNames[0] ?? names.ipAddresses[0];
  if (commonName === undefined) {
    throw new CertificateNameError('a server certificate needs at least one --name (DNS name) or --ip that clients use to reach the relay', '');
  }
  const ca = readCertificateAuthority(caDir);
  const out = prepareOutput(outDir, [SERVER_KEY_FILE, SERVER_CERT_FILE], options.force ?? false);
  const keyPem = await generatePrivateKeyPem(options);
  const csrPem = await createCertificateRequest(keyPem, commonName, options);
  const san = [...names.dnsNames.map((n) => `DNS:${n}`), ...names.ipAddresses.map((ip) => `IP:${ip}`)].join(', ');
  const certPem = await signRequest(ca, csrPem, {
    subject: `/O=Wardline/CN=${escapeSubjectValue(commonName)}`,
    extendedKeyUsage: 'serverAuth',
    subjectAltName: san,
    days: options.days,
    what: 'signing the server certificate',
    openssl: options,
  });
  return writeBundle(ca, out, SERVER_CERT_FILE, SERVER_KEY_FILE, certPem, keyPem);
}

/**
 * Issues a hospital's client certificate into `outDir` (client.crt, client.key
 * 0600, and a copy of ca.crt): a new key, a CSR, and signClientCsr.
 */
export async function issueClientCertificate(caDir: string, outDir: string, hospitalId: string, options: IssueOptions = {}): Promise<IssuedCertificate> {
  checkHospitalId(hospitalId);
  const ca = readCertificateAuthority(caDir);
  const out = prepareOutput(outDir, [CLIENT_KEY_FILE, CLIENT_CERT_FILE], options.force ?? false);
  const keyPem = await generatePrivateKeyPem(options);
  const csrPem = await createCertificateRequest(keyPem, hospitalId, options);
  const certPem = await signClientCsr(caDir, csrPem, hospitalId, options);
  return writeBundle(ca, out, CLIENT_CERT_FILE, CLIENT_KEY_FILE, certPem, keyPem);
}

/**
 * Signs a hospital agent's CSR with the CA in `caDir` and returns the PEM
 * certificate: subject CN and subjectAltName URI name `hospitalId`, usable for
 * TLS client authentication only. Of the CSR only the public key is used, after
 * checking the CSR is signed by that key (proof of possession) and that the key
 * is strong enough (EC P-256/384/521, Ed25519, RSA ≥ 2048 bits). Throws
 * CsrRejectedError, CertificateNameError or CertificateAuthorityError.
 */
export async function signClientCsr(caDir: string, csrPem: string, hospitalId: string, options: Pick<IssueOptions, 'days' | 'command' | 'timeoutMs'> = {}): Promise<string> {
  checkHospitalId(hospitalId);
  const ca = readCertificateAuthority(caDir);
  return signRequest(ca, csrPem, {
    subject: `/O=Wardline hospital/CN=${escapeSubjectValue(hospitalId)}`,
    extendedKeyUsage: 'clientAuth',
    subjectAltName: `URI:${hospitalIdentityUri(hospitalId)}`,
    days: options.days,
    what: `signing the client certificate for hospital "${hospitalId}"`,
    openssl: options,
  });
}

interface CertificateAuthority {
  dir: string;
  certFile: string;
  keyFile: string;
  certificate: X509Certificate;
}

/** Reads and checks a CA directory: both files present, a CA certificate, its key, not expired. */
export function readCertificateAuthority(caDir: string): CertificateAuthority {
  const dir = resolve(caDir);
  const certFile = join(dir, CA_CERT_FILE);
  const keyFile = join(dir, CA_KEY_FILE);
  const create = `create one with \`wardline cert ca --out ${caDir}\``;
  for (const file of [certFile, keyFile]) {
    if (!existsSync(file)) throw new CertificateAuthorityError(`no CA in ${dir}: ${file} is missing (${create})`, file);
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(readFileSync(certFile));
  } catch (cause) {
    throw new CertificateAuthorityError(`${certFile} is not a PEM certificate: ${(cause as Error).message}`, certFile, { cause });
  }
  if (!certificate.ca) throw new CertificateAuthorityError(`${certFile} is not a CA certificate (basicConstraints CA:FALSE); ${create}`, certFile);
  let keyMatches = false;
  try {
    keyMatches = certificate.checkPrivateKey(createPrivateKeyFrom(keyFile));
  } catch (cause) {
    throw new CertificateAuthorityError(`${keyFile} is not a readable, unencrypted PEM private key: ${(cause as Error).message}`, keyFile, { cause });
  }
  if (!keyMatches) throw new CertificateAuthorityError(`${keyFile} is not the private key of ${certFile}`, keyFile);
  if (Date.parse(certificate.validTo) <= Date.now()) {
    throw new CertificateAuthorityError(`the CA in ${dir} expired on ${new Date(certificate.validTo).toISOString()}; ${create} and reissue every certificate`, certFile);
  }
  return { dir, certFile, keyFile, certificate };
}

async function signRequest(
  ca: CertificateAuthority,
  csrPem: string,
  spec: { subject: string; extendedKeyUsage: 'serverAuth' | 'clientAuth'; subjectAltName: string; days: number | undefined; what: string; openssl: OpenSslOptions },
): Promise<string> {
  if (!csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
    throw new CsrRejectedError('not a PEM certificate signing request (expected -----BEGIN CERTIFICATE REQUEST-----)');
  }
  // Never past the CA's own end: a chain is only as valid as its shortest link.
  const caDaysLeft = Math.floor((Date.parse(ca.certificate.validTo) - Date.now()) / DAY_MS);
  const days = Math.min(validityDays(spec.days ?? DEFAULT_CERTIFICATE_VALIDITY_DAYS), caDaysLeft);
  if (days < 1) throw new CertificateAuthorityError(`the CA in ${ca.dir} expires within a day; create a new CA`, ca.certFile);
  return withScratch(async (scratch) => {
    const csrFile = scratch.write('request.csr', csrPem, 0o600);
    const keyType = await checkRequest(csrFile, spec.openssl);
    const extFile = scratch.write(
      'leaf.cnf',
      [
        '[leaf]',
        'basicConstraints = critical, CA:FALSE',
        // keyEncipherment only means something for RSA key exchange.
        `keyUsage = critical, digitalSignature${keyType === 'rsa' ? ', keyEncipherment' : ''}`,
        `extendedKeyUsage = ${spec.extendedKeyUsage}`,
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        `subjectAltName = ${spec.subjectAltName}`,
        '',
      ].join('\n'),
    );
    const pem = await runOpenSsl(
      [
        'x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile,
        // -subj replaces whatever subject the CSR asked for; -clrext drops its extensions.
        '-subj', spec.subject, '-clrext', '-extfile', extFile, '-extensions', 'leaf',
        '-set_serial', randomSerial(), '-days', String(days), '-sha256',
      ],
      spec.what,
      spec.openssl,
    );
    return pem.toString('utf8');
  });
}

/** Verifies the CSR's self-signature and its key's strength; returns the key type. */
async function checkRequest(csrFile: string, openssl: OpenSslOptions): Promise<string> {
  // OpenSSL 3 exits 0 whether or not the self-signature verifies; its verdict is on stderr.
  let verdict: string;
  try {
    verdict = (await runOpenSslWithOutput(['req', '-in', csrFile, '-noout', '-verify'], 'verifying the certificate signing request', openssl)).stderr;
  } catch (error) {
    if (!(error instanceof OpenSslFailedError)) throw error;
    verdict = error.stderr || 'openssl gave no reason';
  }
  if (!/verify OK/i.test(verdict)) {
    throw new CsrRejectedError(`the certificate signing request is malformed or not signed by the key it carries (${verdict.split('\n')[0]})`);
  }
  const publicKey = createPublicKey(await runOpenSsl(['req', '-in', csrFile, '-noout', '-pubkey'], 'reading the public key of the request', openssl));
  const type = publicKey.asymmetricKeyType ?? 'unknown';
  const details = publicKey.asymmetricKeyDetails ?? {};
  const strong =
    (type === 'ec' && ACCEPTED_CURVES.has(details.namedCurve ?? '')) ||
    type === 'ed25519' ||
    ((type === 'rsa' || type === 'rsa-pss') && (details.modulusLength ?? 0) >= MIN_RSA_KEY_BITS);
  if (!strong) {
    const found = type === 'ec' ? `EC ${details.namedCurve}` : type.startsWith('rsa') ? `RSA ${details.modulusLength} bits` : type;
    throw new CsrRejectedError(`the request's key (${found}) is too weak or of an unsupported kind; use EC P-256/P-384/P-521, Ed25519 or RSA of at least ${MIN_RSA_KEY_BITS} bits`);
  }
  return type;
}

function checkHospitalId(hospitalId: string): void {
  if (!NAME_PATTERN.test(hospitalId)) {
    throw new CertificateNameError(`hospital id ${JSON.stringify(hospitalId)}: expected 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit (the relay's hospitals[].id)`, hospitalId);
  }
}

function validityDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new CertificateNameError(`--days ${days}: expected a whole number of days from 1 to 36500`, String(days));
  return days;
}

/** Creates `dir` (0700 if new) and refuses to overwrite `files` there unless `force`. */
function prepareOutput(dir: string, files: readonly string[], force: boolean): string {
  const out = resolve(dir);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  if (!force) {
    for (const file of files) {
      const path = join(out, file);
      if (existsSync(path)) {
        throw new CertificateAuthorityError(`${path} already exists; pass --force to replace it (certificates issued with the old key stop working)`, path);
      }
    }
  }
  return out;
}

function writePrivateKey(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600 });
  // mode applies only when the file is created; a replaced key gets it here.
  chmodSync(path, 0o600);
}

function writeBundle(ca: CertificateAuthority, out: string, certName: string, keyName: string, certPem: string, keyPem: string): IssuedCertificate {
  const keyFile = join(out, keyName);
  const certFile = join(out, certName);
  const caFile = join(out, CA_CERT_FILE);
  writePrivateKey(keyFile, keyPem);
  writeFileSync(certFile, certPem, { mode: 0o644 });
  // The peer needs the CA certificate: put it beside, so the bundle is complete.
  if (resolve(caFile) !== resolve(ca.certFile)) copyFileSync(ca.certFile, caFile);
  return describeIssued(certFile, keyFile, caFile);
}

function describeIssued(certFile: string, keyFile: string, caFile: string): IssuedCertificate {
  const certificate = new X509Certificate(readFileSync(certFile));
  return {
    certFile,
    keyFile,
    caFile,
    subject: certificate.subject.replace(/\n/g, ', '),
    subjectAltName: certificate.subjectAltName ?? '',
    notAfter: new Date(certificate.validTo).toISOString(),
    fingerprint256: certificate.fingerprint256,
  };
}

function createPrivateKeyFrom(file: string): KeyObject {
  return createPrivateKey(readFileSync(file));
}

/** 128 random bits, positive (the top bit clear), as openssl's `0x…` serial. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

/** A private temporary directory for files openssl must read, removed afterwards. */
async function withScratch<T>(body: (scratch: { write(name: string, content: string, mode?: number): string }) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'wardline-ca-'));
  try {
    return await body({
      write: (name, content, mode = 0o600) => {
        const path = join(dir, name);
        writeFileSync(path, content, { mode });
        return path;
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
