// Why the link last failed, as a stable word the dashboard and the robots can
// translate: the error text itself comes from grpc-js, Node's sockets, the TLS
// diagnosis or the relay, is English and changes between versions, so it is
// kept beside the kind as the detail, never shown alone to a reader of Chinese.

/** The kinds of link failure. */
export const LINK_ERROR_KINDS = ['refused', 'timeout', 'unreachable', 'dns', 'reset', 'tls', 'rejected', 'protocol', 'connect-failed', 'stopped', 'other'] as const;
export type LinkErrorKind = (typeof LINK_ERROR_KINDS)[number];

/** Matched in order: the first that fits names the kind. */
const RULES: readonly (readonly [LinkErrorKind, RegExp])[] = [
  ['stopped', /agent stopping|reconnect requested by operator|attempt .* abandoned/i],
  // The TLS diagnosis names the certificate or handshake; check it before the socket codes it may quote.
  ['tls', /certificate|\bTLS\b|\bSSL\b|handshake|self[- ]signed|CERT_|ERR_TLS/i],
  // The relay said no to this agent: before "refused", which it may also say.
  ['rejected', /UNAUTHENTICATED|PERMISSION_DENIED|secret|not enrolled|unknown agent|revoked|refused (the|this) agent/i],
  ['refused', /ECONNREFUSED|\brefused\b/i],
  ['dns', /ENOTFOUND|EAI_AGAIN|getaddrinfo|name resolution|DNS resolution/i],
  ['unreachable', /EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN|no route to host/i],
  ['reset', /ECONNRESET|EPIPE|ECONNABORTED|socket hang up|connection dropped|stream removed|closed the (stream|connection)/i],
  ['timeout', /ETIMEDOUT|deadline|timed? ?out|no answer within/i],
  ['protocol', /protocol version|FAILED_PRECONDITION|UNIMPLEMENTED|malformed|unexpected (frame|message)/i],
  // The transport's word when the socket's own reason did not reach it.
  ['connect-failed', /cannot reach relay|connection failed|UNAVAILABLE/i],
];

/** The kind of a link error's text; "other" when none fits (the text is then the only word). */
export function linkErrorKind(message: string): LinkErrorKind {
  for (const [kind, pattern] of RULES) if (pattern.test(message)) return kind;
  return 'other';
}
