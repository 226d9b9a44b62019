// Who may see the operator endpoints (/, /v1/status in full, /metrics): the
// holder of the operator token. They list every hospital, agent addresses, feeds,
// ledger heads, revocation reasons and every vendor's cursors, so they are not
// for vendors, who share the port. The token is sent as a bearer token
// (monitoring, curl) or as the password of HTTP Basic (a browser asks for it);
// it is compared as a SHA-256 digest with timingSafeEqual. Pure.
import { OperatorAuthError } from '../errors.js';
import { sameDigest, secretDigest } from '../secret-digest.js';

/** The WWW-Authenticate challenges a 401 from an operator endpoint carries. */
export const OPERATOR_CHALLENGE = 'Basic realm="wardline-relay-operator", Bearer realm="wardline-relay-operator"';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const BASIC = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i;

export class OperatorAuth {
  /** @param tokenDigest SHA-256 of the operator token; undefined closes the operator endpoints to everyone. */
  constructor(private readonly tokenDigest: Buffer | undefined) {}

  /** True when the `Authorization` header carries the operator token. */
  isOperator(authorization: string | undefined): boolean {
    if (this.tokenDigest === undefined || authorization === undefined) return false;
    const token = tokenOf(authorization);
    return token !== undefined && sameDigest(secretDigest(token), this.tokenDigest);
  }

  /** Throws OperatorAuthError unless the header carries the operator token. */
  require(authorization: string | undefined): void {
    if (this.isOperator(authorization)) return;
    throw new OperatorAuthError(
      this.tokenDigest === undefined
        ? 'operator endpoints are closed: this relay has no operator token (set http.operatorTokenFile or http.operatorTokenSha256)'
        : 'operator token required: send "Authorization: Bearer <operator token>"',
    );
  }
}

function tokenOf(authorization: string): string | undefined {
  const bearer = BEARER.exec(authorization)?.[1];
  if (bearer !== undefined) return bearer;
  const basic = BASIC.exec(authorization)?.[1];
  if (basic === undefined) return undefined;
  // The user name is ignored: the password is the token.
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}
