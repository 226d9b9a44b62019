// The demo's certificates: it runs as a deployment should, with TLS.
import { join } from 'node:path';
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../../cloud-relay/index.js';
import { OpenSslMissingError } from '../../runtime/index.js';

/**
 * A development CA, the relay's certificate for 127.0.0.1 and localhost, and the
 * demo hospital's client certificate, under `dir`; undefined when the openssl
 * command is missing (the demo then runs in plaintext and says so).
 */
export async function demoCertificates(dir: string, hospitalId: string): Promise<{ caFile: string } | undefined> {
  try {
    const ca = await createCertificateAuthority(join(dir, 'ca'), { commonName: 'Wardline demo CA' });
    await issueServerCertificate(join(dir, 'ca'), join(dir, 'relay'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    await issueClientCertificate(join(dir, 'ca'), join(dir, hospitalId), hospitalId);
    return { caFile: ca.certFile };
  } catch (error) {
    if (!(error instanceof OpenSslMissingError)) throw error;
    process.stderr.write(`wardline demo: ${error.message}; running without TLS\n`);
    return undefined;
  }
}
