// `wardline cert ca|server|client`: a development CA, the relay's server
// certificate and one client certificate per hospital, made with the openssl
// command (cloud-relay/tls/certificate-authority.ts). Prints what it wrote and
// the config lines that use it.
import {
  CertificateAuthorityError,
  CertificateNameError,
  CsrRejectedError,
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type IssuedCertificate,
} from '../cloud-relay/index.js';
import { OpenSslFailedError, OpenSslMissingError } from '../runtime/index.js';

/** Exit codes (sysexits.h): a bad name or option, openssl missing, anything else. */
const EX_USAGE = 64;
const EX_UNAVAILABLE = 69;

interface CommonOptions {
  out: string;
  days?: number;
  force: boolean;
  /** The openssl binary. */
  openssl: string;
}

export interface CertCaOptions extends CommonOptions {
  /** The CA's common name. */
  name?: string;
}

export interface CertServerOptions extends CommonOptions {
  /** The CA directory. */
  ca: string;
  /** DNS names clients dial. */
  name: string[];
  /** IP addresses clients dial. */
  ip: string[];
}

export interface CertClientOptions extends CommonOptions {
  ca: string;
  hospital: string;
}

const say = (line = ''): void => void process.stdout.write(`${line}\n`);

export function certCaCommand(options: CertCaOptions): Promise<number> {
  return guard(async () => {
    const ca = await createCertificateAuthority(options.out, {
      command: options.openssl,
      force: options.force,
      ...(options.days === undefined ? {} : { days: options.days }),
      ...(options.name === undefined ? {} : { commonName: options.name }),
    });
    say(`development CA "${ca.subject}", valid until ${ca.notAfter}`);
    say(`  ${ca.certFile}   the CA certificate: give it to every agent, vendor and relay that must trust what it signs`);
    say(`  ${ca.keyFile}   its private key (0600): keep it secret, it signs every certificate`);
    say();
    say('next:');
    say(`  wardline cert server --ca ${options.out} --name <relay DNS name> --ip <relay IP> --out <dir>`);
    say(`  wardline cert client --ca ${options.out} --hospital <hospital id> --out <dir>`);
  });
}

export function certServerCommand(options: CertServerOptions): Promise<number> {
  return guard(async () => {
    const issued = await issueServerCertificate(options.ca, options.out, { dnsNames: options.name, ipAddresses: options.ip }, issueOptions(options));
    describe('server', issued);
    say();
    say('relay.yaml:');
    say('tls:');
    say(`  certFile: ${issued.certFile}`);
    say(`  keyFile: ${issued.keyFile}`);
    say(`  # mutual TLS: agents prove their hospital with a certificate from this CA (wardline cert client)`);
    say(`  clientCaFile: ${issued.caFile}`);
  });
}

export function certClientCommand(options: CertClientOptions): Promise<number> {
  return guard(async () => {
    const issued = await issueClientCertificate(options.ca, options.out, options.hospital, issueOptions(options));
    describe(`client (hospital "${options.hospital}")`, issued);
    say();
    say(`agent.yaml (hospital.id must be ${options.hospital}), in the relay's entry under relays:`);
    say('    tls:');
    say(`      caFile: ${issued.caFile}`);
    say(`      certFile: ${issued.certFile}`);
    say(`      keyFile: ${issued.keyFile}`);
  });
}

function issueOptions(options: CommonOptions) {
  return { command: options.openssl, force: options.force, ...(options.days === undefined ? {} : { days: options.days }) };
}

function describe(kind: string, issued: IssuedCertificate): void {
  say(`${kind} certificate "${issued.subject}" (${issued.subjectAltName}), valid until ${issued.notAfter}`);
  say(`  ${issued.certFile}`);
  say(`  ${issued.keyFile}   private key (0600): keep it on the machine that uses it`);
  say(`  ${issued.caFile}   the CA certificate, for the peer to trust`);
  say(`  SHA-256 fingerprint ${issued.fingerprint256}`);
}

/** Runs a command body, turning expected failures into one line on stderr and an exit code. */
async function guard(body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (error) {
    if (error instanceof CertificateNameError) return fail(error.message, EX_USAGE);
    if (error instanceof OpenSslMissingError) return fail(error.message, EX_UNAVAILABLE);
    if (error instanceof CertificateAuthorityError || error instanceof CsrRejectedError || error instanceof OpenSslFailedError) return fail(error.message, 1);
    throw error;
  }
}

function fail(message: string, code: number): number {
  process.stderr.write(`wardline cert: ${message}\n`);
  return code;
}
