// Transport security at the relay: what the relay's composition root, the
// `wardline cert` command and (later) agent enrolment may use.
export {
  createCertificateAuthority,
  issueServerCertificate,
  issueClientCertificate,
  signClientCsr,
  readCertificateAuthority,
  CA_CERT_FILE,
  CA_KEY_FILE,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  CLIENT_CERT_FILE,
  CLIENT_KEY_FILE,
  DEFAULT_CA_VALIDITY_DAYS,
  DEFAULT_CERTIFICATE_VALIDITY_DAYS,
  DEFAULT_CA_COMMON_NAME,
  MIN_RSA_KEY_BITS,
  type IssueOptions,
  type IssuedCertificate,
} from './certificate-authority.js';
export { CertificateAuthorityError, CertificateNameError, CsrRejectedError } from './errors.js';
export { RelayTlsSchema, DEFAULT_REQUIRE_CLIENT_CERT, type RelayTlsConfig } from './relay-tls-config.js';
export { loadRelayTls, type RelayTls } from './relay-tls.js';
export { grpcServerCredentials, httpsServerOptions } from './server-credentials.js';
export { peerIdentity, type PeerIdentity } from './peer-identity.js';
