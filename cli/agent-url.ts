// The agent's HTTP address for CLI commands that talk to it: given with --url,
// or in WARDLINE_AGENT_URL, which the installed launcher sets from the installed
// http.listen and TLS, so `wardline agent status` on that host needs no --url.

import { DEFAULT_AGENT_HTTP_PORT } from '../protocol/index.js';

/** The environment variable the CLI reads the agent's address from. */
export const AGENT_URL_ENV = 'WARDLINE_AGENT_URL';

/** The default for --url: WARDLINE_AGENT_URL when set, else the agent's default address. */
export function defaultAgentUrl(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[AGENT_URL_ENV]?.trim();
  return fromEnv ? fromEnv : `http://127.0.0.1:${DEFAULT_AGENT_HTTP_PORT}`;
}
