// `wardline agent reconnect`: asks a running agent to drop its relay streams and
// backoff waits and connect again now — for after the line is repaired, rather
// than waiting out a backoff of up to the configured maximum.
// Exits 0 when the agent took the request, 2 when it cannot be reached or refused.
import { adminActionHeaders, LOGIN_REQUIRED_HINT } from './admin-token.js';

/**
 * @param options.url the agent's HTTP address, e.g. http://127.0.0.1:8480
 * @param options.token the agent's http.admin token; default WARDLINE_ADMIN_TOKEN
 */
export async function agentReconnectCommand(options: { url: string; token?: string }): Promise<number> {
  let response: Response;
  try {
    response = await fetch(new URL('/v1/admin/reconnect', options.url), { method: 'POST', headers: await adminActionHeaders(options.url, options.token), body: '{}', signal: AbortSignal.timeout(5000) });
  } catch (error) {
    process.stderr.write(`cannot reach the agent at ${options.url}: ${(error as Error).message}\n`);
    return 2;
  }
  if (response.status === 401) {
    process.stderr.write(`the agent at ${options.url} refused the reconnect: ${LOGIN_REQUIRED_HINT}\n`);
    return 2;
  }
  if (response.status !== 202) {
    process.stderr.write(`the agent at ${options.url} refused the reconnect: HTTP ${response.status} ${await response.text()}\n`);
    return 2;
  }
  process.stdout.write(`reconnecting; follow it with: wardline agent status --url ${options.url}\n`);
  return 0;
}
