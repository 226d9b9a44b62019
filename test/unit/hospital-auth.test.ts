import { describe, expect, it } from 'vitest';
import { AgentAuthError, CertificateIdentityError } from '../../cloud-relay/errors.js';
import { HospitalAuth } from '../../cloud-relay/ingest/hospital-auth.js';
import { certificateIdentity, type CertificateIdentity } from '../../protocol/index.js';

const SECRET = 'h2-secret-0123456789abcdef';
const certificateFor = (id: string) => certificateIdentity({ subject: { CN: id }, subjectaltname: `URI:urn:wardline:hospital:${id}` }) as CertificateIdentity;

function refusal(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal');
}

describe('HospitalAuth with client certificates', () => {
  // h1 authenticates by certificate only; h2 has a secret too.
  const auth = new HospitalAuth([{ id: 'h1' }, { id: 'h2', secret: SECRET }], { mutualTls: true });

  it('accepts the certificate alone for a hospital without a secret, and says how', () => {
    expect(auth.verify('h1', '', certificateFor('h1'))).toBe('certificate');
    expect(auth.verify('h2', SECRET, certificateFor('h2'))).toBe('certificate and secret');
    expect(auth.verify('h2', SECRET)).toBe('secret');
  });

  it("refuses a Hello for another hospital than the certificate's, whatever the secret", () => {
    const error = refusal(() => auth.verify('h2', SECRET, certificateFor('h1')));
    expect(error).toBeInstanceOf(CertificateIdentityError);
    expect(error.message).toBe(
      'the client certificate identifies hospital "h1" (CN=h1, URI:urn:wardline:hospital:h1) but Hello says hospital_id "h2": ' +
        'an agent may replicate only as the hospital its certificate names; install the certificate issued for "h2" ' +
        '(relays[].tls.certFile and keyFile) or correct hospital.id in agent.yaml',
    );
  });

  it('refuses a certificate that names no hospital', () => {
    const error = refusal(() => auth.verify('h1', '', { problem: 'the certificate names no hospital' }));
    expect(error).toBeInstanceOf(CertificateIdentityError);
    expect(error.message).toMatch(/^the client certificate cannot identify a hospital: the certificate names no hospital; install a certificate issued for "h1"/);
  });

  it('refuses a hospital without a secret when no certificate was presented, pointing at certificates', () => {
    const error = refusal(() => auth.verify('h1', ''));
    expect(error).toBeInstanceOf(AgentAuthError);
    expect((error as AgentAuthError).reason).toBe('no-certificate');
    expect(error.message).toContain('presented none the relay trusts');
    expect(error.message).toContain('relays[].tls.certFile');
    // The same words for an unknown hospital: refusals do not tell which ids exist.
    expect(refusal(() => auth.verify('h9', '')).message).toBe(error.message.replace('"h1"', '"h9"'));
  });

  it('still checks the secret of a hospital that has one, certificate or not', () => {
    expect((refusal(() => auth.verify('h2', 'wrong-secret-0123456789', certificateFor('h2'))) as AgentAuthError).reason).toBe('wrong-secret');
  });
});
