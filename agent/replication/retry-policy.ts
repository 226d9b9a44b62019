import { status } from '@grpc/grpc-js';

/**
 * Whether a stream that ended with this gRPC status is worth retrying soon.
 * Credential and version problems will not fix themselves within seconds, so the
 * replicator waits the maximum backoff before trying them again (it still retries,
 * so the link heals on its own once the relay's configuration is fixed).
 */
export function isRetryableStatus(code: number): boolean {
  switch (code) {
    case status.UNAUTHENTICATED:
    case status.PERMISSION_DENIED:
    case status.FAILED_PRECONDITION:
    case status.UNIMPLEMENTED:
      return false;
    default:
      return true;
  }
}
