// The agent's admin token for CLI commands that talk to its HTTP port: given
// with --token, or in WARDLINE_ADMIN_TOKEN (kept out of shell history and `ps`).

/** The environment variable the CLI reads the token from. */
export const ADMIN_TOKEN_ENV = 'WARDLINE_ADMIN_TOKEN';

/** Request headers carrying the token; none when there is no token. */
export function adminHeaders(token: string | undefined = process.env[ADMIN_TOKEN_ENV]): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * Headers for an admin action (POST /v1/admin/…): the bearer token, or, for an
 * agent without http.admin, the CSRF token it hands out at GET /v1/session (it
 * refuses admin actions without one, so that no web page can make them).
 */
export async function adminActionHeaders(url: string, token: string | undefined = process.env[ADMIN_TOKEN_ENV]): Promise<Record<string, string>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...adminHeaders(token) };
  if (token) return headers;
  const session = await fetch(new URL('/v1/session', url), { signal: AbortSignal.timeout(5000) });
  if (session.ok) {
    const csrfToken = ((await session.json()) as { csrfToken?: unknown }).csrfToken;
    if (typeof csrfToken === 'string') headers['x-wardline-csrf'] = csrfToken;
  } else await session.body?.cancel();
  return headers;
}

/** What to tell the operator when the agent answered 401. */
export const LOGIN_REQUIRED_HINT = `the agent requires a login: pass --token <http.admin token> or set ${ADMIN_TOKEN_ENV}`;
