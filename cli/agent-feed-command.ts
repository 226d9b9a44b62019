// `wardline agent pause|resume|revoke|reenable --feed F`: asks a running agent to
// hold or release a feed (POST /v1/admin/feeds/{feed}/{action}). pause returns
// only once nothing more of the feed leaves; revoke waits for the relay's answer.
// Exits 0 when done, 1 when the relay has not answered a revoke or re-enable yet
// (the agent keeps sending it), 2 when the agent is unreachable or refused.
import type { FeedControlResult } from '../agent/index.js';
import { adminActionHeaders, LOGIN_REQUIRED_HINT } from './admin-token.js';

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
  let response: Response;
  try {
    response = await fetch(new URL(`/v1/admin/feeds/${encodeURIComponent(options.feed)}/${action}`, options.url), {
      method: 'POST',
      headers: await adminActionHeaders(options.url, options.token),
      body: options.reason === undefined ? '' : JSON.stringify({ reason: options.reason }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    process.stderr.write(`cannot reach the agent at ${options.url}: ${(error as Error).message}\n`);
    return 2;
  }
  const text = await response.text();
  if (response.status === 401) {
    process.stderr.write(`the agent at ${options.url} refused to ${action} feed ${options.feed}: ${LOGIN_REQUIRED_HINT}\n`);
    return 2;
  }
  if (response.status !== 200 && response.status !== 202) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not our JSON error: print it as it came
    }
    process.stderr.write(`the agent refused to ${action} feed ${options.feed}: HTTP ${response.status}: ${message}\n`);
    return 2;
  }
  const result = JSON.parse(text) as FeedControlResult;
  if (options.json) write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    write(`${result.message}\n`);
    write(`  state ${result.state}, acked seq ${result.ackedSeq}, sent seq ${result.sentSeq}, in flight ${result.inFlight}, took ${result.tookMs} ms${result.ledgerIndex === null ? '' : `, ledger record ${result.ledgerIndex}`}\n`);
    if (result.relayAnswer) write(`  the relay answered (ledger record ${result.relayAnswer.ledgerIndex}): ${JSON.stringify(result.relayAnswer.details)}\n`);
  }
  return response.status === 202 ? 1 : 0;
}
