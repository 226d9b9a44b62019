// What the agent says (link lastError) when TLS keeps it from the relay.
import { describe, expect, it } from 'vitest';
import { diagnoseTls, type TlsDiagnosisContext } from '../../agent/replication/tls-diagnosis.js';

const mutual: TlsDiagnosisContext = { address: 'relay.example:7443', configKey: 'relays[0]', tls: true, hasCa: true, hasClientCertificate: true };
const failed = (code: string, message: string, afterHandshake = false) => ({ kind: 'handshake-failed' as const, code, message, afterHandshake });

describe('TLS diagnosis', () => {
  it('says nothing when TLS is not the cause', () => {
    expect(diagnoseTls({ kind: 'ok' }, mutual)).toBeUndefined();
    expect(diagnoseTls({ kind: 'unreachable', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, mutual)).toBeUndefined();
    expect(diagnoseTls({ kind: 'timeout' }, mutual)).toBeUndefined();
  });

  it("points at caFile when the relay's certificate is not trusted", () => {
    expect(diagnoseTls(failed('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), mutual)).toBe(
      "the relay's certificate at relay.example:7443 is not trusted (self-signed certificate in certificate chain): relays[0].tls.caFile is not the CA that issued it; " +
        "use the ca.crt the relay operator gave with the relay's certificate",
    );
    expect(diagnoseTls(failed('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate'), { ...mutual, hasCa: false })).toContain('set relays[0].tls.caFile');
  });

  it('points at serverName when the certificate does not carry the dialled name', () => {
    const text = diagnoseTls(failed('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), mutual)!;
    expect(text).toContain('set relays[0].tls.serverName');
  });

  it('tells a missing client certificate from a refused one', () => {
    expect(diagnoseTls(failed('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required', true), { ...mutual, hasClientCertificate: false })).toBe(
      'the relay at relay.example:7443 requires a client certificate (mutual TLS) and relays[0].tls has none: ' +
        "set relays[0].tls.certFile and keyFile to this hospital's certificate (wardline cert client --hospital <id>)",
    );
    expect(diagnoseTls(failed('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca', true), mutual)).toBe(
      'the relay at relay.example:7443 refused this agent\'s TLS handshake (alert "unknown ca"): the client certificate in relays[0].tls.certFile ' +
        "was not issued by a CA the relay trusts (the relay's tls.clientCaFile); use the certificate the relay operator issued for this hospital",
    );
    expect(diagnoseTls(failed('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'sslv3 alert certificate expired', true), { ...mutual, clientCertificateProblem: 'expired on 2020-01-01T00:00:00.000Z' })).toContain(
      'is expired on 2020-01-01T00:00:00.000Z; ask the relay operator for a new one',
    );
    expect(diagnoseTls(failed('ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'sslv3 alert unsupported certificate', true), mutual)).toContain('lacks extendedKeyUsage clientAuth');
  });

  it('says when one side speaks plaintext', () => {
    expect(diagnoseTls(failed('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'), mutual)).toMatch(/^the relay at relay.example:7443 does not speak TLS/);
    const plaintext = { ...mutual, tls: false, hasCa: false, hasClientCertificate: false };
    expect(diagnoseTls({ kind: 'ok' }, plaintext)).toMatch(/^the relay at relay.example:7443 speaks TLS, but relays\[0\] connects in plaintext \(allowPlaintext: true\)/);
    expect(diagnoseTls(failed('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'x', true), plaintext)).toContain('speaks TLS');
    expect(diagnoseTls({ kind: 'closed-during-handshake' }, plaintext)).toBeUndefined();
  });
});
