// The operator's purge over the running relay's HTTP API (POST
// /v1/operator/purge, operator token): `wardline relay purge` asks the relay
// that holds the database open, so the deletion goes through the same store,
// position cache and purge queue as an agent's purge — a second process writing
// the database would leave the running relay's in-memory positions stale.
import { NAME_PATTERN } from '../../protocol/index.js';
import { PurgeRefusedError, RelayErrorCode } from '../errors.js';
import type { FeedPurger } from './feed-purge.js';

/** The request body: { hospital, feed?, reason?, requestedBy? }. */
export interface OperatorPurgeBody {
  hospital: string;
  feed?: string;
  reason?: string;
  requestedBy?: string;
}

/** The answer: the receipt text exactly as signed, its signature, and whether it is the one kept from an earlier purge. */
export interface OperatorPurgeAnswer {
  receipt: string;
  signature: string;
  alreadyPurged: boolean;
}

/** Checks the body, purges, answers the signed receipt. Rejects with PurgeRefusedError (nothing deleted). */
export async function operatorPurge(purger: FeedPurger, body: unknown): Promise<OperatorPurgeAnswer> {
  const request = checkedBody(body);
  const result = await purger.purge({
    hospital: request.hospital,
    ...(request.feed === undefined ? {} : { feed: request.feed }),
    reason: request.reason ?? '',
    requestedBy: `relay operator${request.requestedBy ? ` (${request.requestedBy})` : ''}`,
  });
  return { receipt: result.text, signature: result.signature, alreadyPurged: result.alreadyPurged };
}

function checkedBody(body: unknown): OperatorPurgeBody {
  const bad = (what: string) => new PurgeRefusedError(`purge request: ${what}; nothing was deleted`, RelayErrorCode.PURGE_BAD_REQUEST);
  if (!body || typeof body !== 'object') throw bad('expected a JSON object { hospital, feed?, reason?, requestedBy? }');
  const { hospital, feed, reason, requestedBy } = body as Record<string, unknown>;
  if (typeof hospital !== 'string' || hospital.length === 0 || hospital.length > 200) throw bad(`hospital: expected a hospital id, got ${JSON.stringify(hospital)}`);
  if (feed !== undefined && (typeof feed !== 'string' || !NAME_PATTERN.test(feed))) throw bad(`feed: expected a feed name, got ${JSON.stringify(feed)}`);
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1_000)) throw bad('reason: expected text of at most 1000 characters');
  if (requestedBy !== undefined && (typeof requestedBy !== 'string' || requestedBy.length > 200)) throw bad('requestedBy: expected text of at most 200 characters');
  return { hospital, ...(feed === undefined ? {} : { feed: feed as string }), ...(reason === undefined ? {} : { reason: reason as string }), ...(requestedBy === undefined ? {} : { requestedBy: requestedBy as string }) };
}
