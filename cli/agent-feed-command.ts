// `wardline agent pause|resume|revoke|reenable --feed F`: asks a running agent to
// hold or release a feed (POST /v1/admin/feeds/{feed}/{action}). pause returns
// only once nothing more of the feed leaves; revoke waits for the relay's answer.
// Exits 0 when done, 1 when the relay has not answered a revoke or re-enable yet
// (the agent keeps sending it), 2 when the agent is unreachable or refused.
import { postFeedAction } from './feed-action-request.js';

export type FeedAction = 'pause' | 'resume' | 'revoke' | 'reenable';

export interface AgentFeedCommandOptions {
  /** The agent's HTTP address, e.g. http://127.0.0.1:8480. */
  url: string;
  feed: string;
  /** Goes into the egress ledger with the action. */
  reason?: string;
  json?: boolean;
  /** The agent's http.admin token; default WARDLINE_ADMIN_TOKEN. */
  token?: string;
  /** How long to wait for the agent's answer, in ms; default 30 000 (a revoke waits up to 10 s for the relay). */
  timeoutMs?: number;
}

export async function agentFeedCommand(action: FeedAction, options: AgentFeedCommandOptions, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const answer = await postFeedAction({ ...options, timeoutMs: options.timeoutMs ?? 30_000 }, action, options.reason === undefined ? '' : JSON.stringify({ reason: options.reason }));
  if ('exitCode' in answer) return answer.exitCode;
  const { result } = answer;
  if (options.json) write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    write(`${result.message}\n`);
    write(`  state ${result.state}, acked seq ${result.ackedSeq}, sent seq ${result.sentSeq}, in flight ${result.inFlight}, took ${result.tookMs} ms${result.ledgerIndex === null ? '' : `, ledger record ${result.ledgerIndex}`}\n`);
    if (result.relayAnswer) write(`  the relay answered (ledger record ${result.relayAnswer.ledgerIndex}): ${JSON.stringify(result.relayAnswer.details)}\n`);
  }
  return answer.status === 202 ? 1 : 0;
}
