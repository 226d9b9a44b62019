// What the relay does with an agent's Purge: the hospital's own agent (the
// stream is authenticated by its Hello) asks for one of its feeds to be deleted
// for good; FeedPurger (cloud-relay/exit/feed-purge.ts) does it and signs the
// receipt, which goes back in Purged. A refusal (a feed the relay holds nothing
// of) is answered in Purged.error with nothing deleted; the stream goes on.
import type { Logger } from 'pino';
import { NAME_PATTERN, pb, type AgentMessage, type RelayMessage } from '../../protocol/index.js';
import type { FeedPurger } from '../exit/index.js';
import { PurgeRefusedError } from '../errors.js';
import { ledgerHeadOf, MAX_REVOKE_REASON_CHARS } from './feed-control-handler.js';

type Purge = NonNullable<AgentMessage['purge']>;

/** Longest requested_by kept in a receipt, in characters. */
export const MAX_REQUESTED_BY_CHARS = 200;

/** Purges the feed for the agent's hospital and answers with the signed receipt, or the refusal. */
export async function handlePurge(purger: FeedPurger, hospital: string, agentId: string, purge: Purge, log: Logger): Promise<RelayMessage> {
  const feed = purge.feed ?? '';
  if (!NAME_PATTERN.test(feed)) {
    return pb.RelayMessage.create({ purged: { feed, error: `WL_PURGE_BAD_REQUEST: Purge names feed ${JSON.stringify(feed)}, which is not a valid feed name; nothing was deleted` } });
  }
  const who = (purge.requestedBy ?? '').slice(0, MAX_REQUESTED_BY_CHARS);
  const requestedBy = `hospital ${hospital}, agent ${agentId || '(no id)'}${who ? `, ${who}` : ''}`;
  try {
    const result = await purger.purge({ hospital, feed, reason: (purge.reason ?? '').slice(0, MAX_REVOKE_REASON_CHARS), requestedBy, ledgerHead: ledgerHeadOf(purge) });
    const entry = result.receipt.feeds[0];
    log.info({ feed, requestedBy, alreadyPurged: result.alreadyPurged, eventsDeleted: entry?.eventsDeleted, bytesDeleted: entry?.bytesDeleted, erasure: result.receipt.erasure }, result.alreadyPurged ? 'purge asked again: the kept receipt is sent' : 'feed purged at the hospital\'s request; receipt signed');
    return pb.RelayMessage.create({ purged: { feed, receipt: result.text, receiptSignature: result.signature } });
  } catch (error) {
    if (!(error instanceof PurgeRefusedError)) throw error;
    log.warn({ feed, code: error.code }, error.message);
    return pb.RelayMessage.create({ purged: { feed, error: `${error.code}: ${error.message}` } });
  }
}
