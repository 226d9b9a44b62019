import { describe, expect, it } from 'vitest';
import { certificateIdentity, hospitalIdentityUri, subjectAltNames } from '../../protocol/index.js';

describe('certificate identity', () => {
  it('reads the hospital from the subjectAltName URI, before the CN', () => {
    expect(hospitalIdentityUri('h-zj-001')).toBe('urn:wardline:hospital:h-zj-001');
    expect(certificateIdentity({ subject: { CN: 'something else' }, subjectaltname: 'DNS:agent.local, URI:urn:wardline:hospital:h-zj-001' })).toEqual({
      hospitalId: 'h-zj-001',
      from: 'san-uri',
      describe: 'CN=something else, URI:urn:wardline:hospital:h-zj-001',
    });
  });

  it('falls back to the subject CN for certificates from a hospital PKI', () => {
    expect(certificateIdentity({ subject: { CN: 'h1' } })).toMatchObject({ hospitalId: 'h1', from: 'subject-cn' });
    expect(certificateIdentity({ subject: { CN: ['h1', 'ignored'] }, subjectaltname: 'URI:https://example.org/' })).toMatchObject({ hospitalId: 'h1' });
  });

  it('names no hospital when the certificate names none, or several', () => {
    expect(certificateIdentity({ subject: {} })).toEqual({ problem: expect.stringContaining('names no hospital') });
    expect(certificateIdentity({ subjectaltname: 'URI:urn:wardline:hospital:h1, URI:urn:wardline:hospital:h2' })).toEqual({
      problem: 'the certificate names several hospitals (h1, h2)',
    });
  });

  it("parses Node's quoted subjectaltname values", () => {
    expect(subjectAltNames('DNS:a.example, URI:"urn:x:with, comma", IP Address:127.0.0.1, URI:urn:y', 'URI')).toEqual(['urn:x:with, comma', 'urn:y']);
    expect(subjectAltNames('DNS:a.example, IP Address:127.0.0.1', 'IP Address')).toEqual(['127.0.0.1']);
  });
});
