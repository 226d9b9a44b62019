// How a client certificate names the hospital whose agent holds it. The issuer
// (`wardline cert client`, and later enrolment) writes the identity; the relay
// reads it from the verified certificate and compares it with Hello.hospital_id.
//
// The identity is a subjectAltName URI, `urn:wardline:hospital:<id>`: SANs are
// where X.509 puts names that software matches on, and the URN cannot be mistaken
// for a host name. A certificate without such a URI (one from a hospital's own
// PKI) is read by its subject common name instead.

/** The subjectAltName URI prefix naming a hospital: `urn:wardline:hospital:<hospital id>`. */
export const HOSPITAL_URI_PREFIX = 'urn:wardline:hospital:';

/** The subjectAltName URI that names `hospitalId`. */
export function hospitalIdentityUri(hospitalId: string): string {
  return `${HOSPITAL_URI_PREFIX}${hospitalId}`;
}

/** The hospital a verified client certificate names, and where in it the name was found. */
export interface CertificateIdentity {
  hospitalId: string;
  from: 'san-uri' | 'subject-cn';
  /** A short human description of the certificate, for error messages and logs. */
  describe: string;
}

/** The parts of a certificate this needs, as node:tls' PeerCertificate gives them. */
export interface CertificateNames {
  subject?: { CN?: string | string[] } | null;
  /** Node's rendering, e.g. `DNS:relay.example, URI:urn:wardline:hospital:h1, IP Address:127.0.0.1`. */
  subjectaltname?: string;
}

/**
 * The hospital a certificate names, or a reason it names none (no URI and no
 * CN, or two different hospital URIs, which no issuer of ours writes).
 */
export function certificateIdentity(certificate: CertificateNames): CertificateIdentity | { problem: string } {
  const uris = subjectAltNames(certificate.subjectaltname ?? '', 'URI');
  const hospitals = [...new Set(uris.filter((uri) => uri.startsWith(HOSPITAL_URI_PREFIX)).map((uri) => uri.slice(HOSPITAL_URI_PREFIX.length)))];
  const cn = commonName(certificate);
  const describe = [cn === undefined ? undefined : `CN=${cn}`, ...uris.map((uri) => `URI:${uri}`)].filter(Boolean).join(', ') || 'no subject names';
  if (hospitals.length > 1) return { problem: `the certificate names several hospitals (${hospitals.join(', ')})` };
  if (hospitals[0] !== undefined) return { hospitalId: hospitals[0], from: 'san-uri', describe };
  if (cn !== undefined && cn !== '') return { hospitalId: cn, from: 'subject-cn', describe };
  return { problem: `the certificate names no hospital (expected a subjectAltName URI ${HOSPITAL_URI_PREFIX}<id> or a subject CN)` };
}

function commonName(certificate: CertificateNames): string | undefined {
  const cn = certificate.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** Values of one kind (`URI`, `DNS`, `IP Address`) from Node's subjectaltname string. */
export function subjectAltNames(text: string, kind: string): string[] {
  const values: string[] = [];
  // Node quotes a value (JSON-style) when it holds a comma or a quote, so an
  // unquoted value runs to the next ", ".
  const pattern = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const match of text.matchAll(pattern)) {
    if (match[1] !== kind) continue;
    const raw = match[2]!;
    values.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return values;
}
