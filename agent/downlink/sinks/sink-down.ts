// When a delivery did not reach the hospital's system at all: the outcome that
// says so (retryable, sinkDown: it does not count towards the event's quarantine).
import type { SinkOutcome } from './inbound-sink.js';

/** Socket errors that mean the system was not reached (or dropped the connection before answering). */
export const UNREACHABLE_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
]);

/** TLS failures (the certificate not trusted, the name not matching): the system was not reached either. */
const TLS_FAILURE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|HOSTNAME_MISMATCH|ALTNAME/;

/** True when an error says the system was not reached (refused, reset, unreachable, TLS not trusted). */
export function isUnreachable(error: unknown): boolean {
  const code = errnoOf(error, '');
  return UNREACHABLE_ERRNOS.has(code) || TLS_FAILURE.test(code);
}

/** error.code of a Node socket or driver error, or `fallback`. */
export function errnoOf(error: unknown, fallback: string): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code !== '' ? code : fallback;
}

/** The outcome of an attempt that never reached `system` ("the HIS at his:2575"). */
export function sinkDownOutcome(system: string, error: unknown, fallbackCode = 'unreachable'): SinkOutcome {
  const code = errnoOf(error, fallbackCode);
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'retryable', code, reason: `cannot reach ${system}: ${message}`, sinkDown: true };
}
