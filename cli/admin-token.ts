// The agent's admin token for CLI commands that talk to its HTTP port: given
// with --token, or in WARDLINE_ADMIN_TOKEN (kept out of shell history and `ps`).

/** The environment variable the CLI reads the token from. */
export const ADMIN_TOKEN_ENV = 'WARDLINE_ADMIN_TOKEN';

/** Request headers carrying the token; none when there is no token. */
export function adminHeaders(token: string | undefined = process.env[ADMIN_TOKEN_ENV]): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** What to tell the operator when the agent answered 401. */
export const LOGIN_REQUIRED_HINT = `the agent requires a login: pass --token <http.admin token> or set ${ADMIN_TOKEN_ENV}`;
