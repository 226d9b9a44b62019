// Enrols the agent with the relay: a new private key and CSR made here (the key
// never leaves this server), POST /v1/enrol with the one-time token over HTTPS
// trusting the relay CA the operator was given, and the signed certificate back.
import { request } from 'node:https';
import { createCertificateRequest, generatePrivateKeyPem } from '../runtime/index.js';
import { EnrolmentFailedError } from './errors.js';

export interface EnrolmentResult {
  keyPem: string;
  certPem: string;
  caPem: string;
  hospital: string;
}

export async function enrolWithRelay(options: { url: string; token: string; caPem: string; hospitalId: string; timeoutMs?: number }): Promise<EnrolmentResult> {
  const keyPem = await generatePrivateKeyPem();
  const csrPem = await createCertificateRequest(keyPem, options.hospitalId);
  const body = JSON.stringify({ token: options.token, csrPem });
  const url = new URL('/v1/enrol', options.url);
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: options.caPem, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: options.timeoutMs ?? 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (cause) => reject(new EnrolmentFailedError(`cannot reach the relay at ${url.origin}: ${cause.message}`, undefined, { cause })));
    req.end(body);
  });
  let parsed: { hospital?: string; certPem?: string; caPem?: string; error?: { message?: string } };
  try {
    parsed = JSON.parse(answer.text) as typeof parsed;
  } catch {
    throw new EnrolmentFailedError(`the relay answered ${answer.status} with no JSON`, answer.status);
  }
  if (answer.status !== 200 || !parsed.certPem || !parsed.caPem) {
    throw new EnrolmentFailedError(`the relay refused enrolment (${answer.status}): ${parsed.error?.message ?? answer.text.trim()}`, answer.status);
  }
  if (parsed.hospital !== options.hospitalId) {
    throw new EnrolmentFailedError(`the token is for hospital "${parsed.hospital}", but the answers say "${options.hospitalId}"`);
  }
  return { keyPem, certPem: parsed.certPem, caPem: parsed.caPem, hospital: parsed.hospital };
}
