// One POST /v1/admin/feeds/{feed}/{action} to a running agent, for every feed
// command (pause, resume, revoke, reenable, purge): the request, and the
// refusals it can meet (unreachable, login required, an error answer), each
// printed as one line on stderr.
import type { FeedControlResult } from '../agent/index.js';
import { adminActionHeaders, LOGIN_REQUIRED_HINT } from './admin-token.js';

export interface FeedActionRequest {
  /** The agent's HTTP address, e.g. http://127.0.0.1:8480. */
  url: string;
  feed: string;
  /** The agent's http.admin token; default WARDLINE_ADMIN_TOKEN. */
  token?: string;
  /** How long to wait for the agent's answer, in ms. */
  timeoutMs: number;
}

/** The agent's answer: 200 done, 202 the relay has not answered yet; or the exit code 2 once a refusal was printed. */
export type FeedActionAnswer = { status: 200 | 202; result: FeedControlResult } | { exitCode: 2 };

/** Sends `action` with `body` (the request's JSON text, '' for none). */
export async function postFeedAction(request: FeedActionRequest, action: string, body: string): Promise<FeedActionAnswer> {
  let response: Response;
  try {
    response = await fetch(new URL(`/v1/admin/feeds/${encodeURIComponent(request.feed)}/${action}`, request.url), {
      method: 'POST',
      headers: await adminActionHeaders(request.url, request.token),
      body,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (error) {
    process.stderr.write(`cannot reach the agent at ${request.url}: ${(error as Error).message}\n`);
    return { exitCode: 2 };
  }
  const text = await response.text();
  if (response.status === 401) {
    process.stderr.write(`the agent at ${request.url} refused to ${action} feed ${request.feed}: ${LOGIN_REQUIRED_HINT}\n`);
    return { exitCode: 2 };
  }
  if (response.status !== 200 && response.status !== 202) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not our JSON error: print it as it came
    }
    process.stderr.write(`the agent refused to ${action} feed ${request.feed}: HTTP ${response.status}: ${message}\n`);
    return { exitCode: 2 };
  }
  return { status: response.status === 202 ? 202 : 200, result: JSON.parse(text) as FeedControlResult };
}
