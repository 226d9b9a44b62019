// Errors of the relay's certificate authority (issuing development certificates,
// signing agents' CSRs). Each message says what to do. OpenSSL's own failures
// are runtime/openssl-command.ts' OpenSslMissingError and OpenSslFailedError.

/** The CA directory is missing, incomplete or unreadable, or an output would overwrite a key. */
export class CertificateAuthorityError extends Error {
  override name = 'CertificateAuthorityError';
  constructor(
    message: string,
    /** The file or directory concerned. */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A CSR was refused: malformed, not self-signed by its key, or its key too weak. Nothing was issued. */
export class CsrRejectedError extends Error {
  override name = 'CsrRejectedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A name for a certificate (DNS name, IP address, hospital id) is not acceptable. */
export class CertificateNameError extends Error {
  override name = 'CertificateNameError';
  constructor(
    message: string,
    readonly value: string,
  ) {
    super(message);
  }
}
