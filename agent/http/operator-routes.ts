// The operator's side of the agent's HTTP port: the login, the dashboard page
// and its assets, its live channel (WebSocket /v1/live), /readyz, and the guard
// in front of /v1/status, /metrics, /healthz and /v1/admin/*. The data plane
// (/v1/ingest, /v1/records) is not guarded here: local applications use it with
// credentials of their own (local-app-auth.ts, http.clients).
//
// Who may do what, once http.admin is configured:
//   /login, /assets/*                  anyone
//   /healthz, /readyz, /metrics        anyone if listed in http.admin.open (default), else logged in
//   /v1/status                         logged in, or anyone if "status" is in http.admin.open
//   /, /v1/live, /v1/session           logged in (session cookie or bearer token)
//   /v1/admin/* (reconnect, pause …)   logged in
//   /v1/inbound, /v1/inbound/*         logged in (inbound-routes.ts)
//   /v1/messages, /v1/rejections       logged in (message-routes.ts)
//   /v1/studies/*                      logged in (imaging-routes.ts)
// Without http.admin everything is open, and the log and the page say so. With
// or without it, an admin action by a browser (session, or an open agent) must
// be a same-origin JSON POST with the page's CSRF token (AdminAuth.adminWriteRefusal),
// and every request must name this agent in Host (request-guard.ts, before any route).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { renderDashboardPage, renderLoginPage, type DashboardAssets, type DashboardHub } from '../operations/dashboard/index.js';
import type { ReadinessReport } from '../../runtime/index.js';
import { sameOrigin, type AdminAuth, type AdminIdentity } from './admin-auth.js';
import type { OpenableEndpoint } from './admin-config.js';
import { sendJson } from './json-response.js';
import { readBody } from './request-body.js';
import { isStudyRoute } from './imaging-routes.js';

/** Largest login form accepted, in bytes. */
const MAX_LOGIN_BODY_BYTES = 4 * 1024;
/** The path of the dashboard's WebSocket. */
export const LIVE_PATH = '/v1/live';

/** What AgentHttpServer asks of the operations routes. */
export interface HttpOperations {
  /** Serves the request or refuses it (401); false when it is for the rest of the server. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** A WebSocket upgrade on the HTTP port. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Ends every live connection, so the HTTP server can close. */
  close(): Promise<void>;
}

export interface OperatorRoutesLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface OperatorRoutesOptions {
  auth: AdminAuth;
  hub: DashboardHub;
  assets: DashboardAssets;
  readiness: () => ReadinessReport;
  hospitalName: string;
  log: OperatorRoutesLogger;
}

/** The page may load only what the agent itself serves; uPlot sets inline styles, hence 'unsafe-inline' for styles. */
const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the login POST.
  'referrer-policy': 'same-origin',
};

const OPENABLE_PATHS: Record<string, OpenableEndpoint> = { '/healthz': 'healthz', '/readyz': 'readyz', '/metrics': 'metrics', '/v1/status': 'status' };

export class OperatorRoutes implements HttpOperations {
  constructor(private readonly options: OperatorRoutesOptions) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const { auth } = this.options;
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const reading = method === 'GET' || method === 'HEAD';

    if (path === '/login') {
      if (method === 'POST') await this.login(req, res);
      else if (!auth.required) redirect(res, '/');
      else this.sendHtml(res, 200, renderLoginPage({ hospitalName: this.options.hospitalName }));
      return true;
    }
    if (path === '/logout' && method === 'POST') {
      req.resume();
      auth.logout(req);
      redirect(res, auth.required ? '/login' : '/', { 'set-cookie': auth.clearedCookie(req) });
      return true;
    }
    if (path.startsWith('/assets/') && reading) {
      this.serveAsset(req, res, path);
      return true;
    }
    if (path === '/' && reading) {
      if (auth.identify(req) === null) redirect(res, '/login');
      else this.sendHtml(res, 200, renderDashboardPage({ hospitalName: this.options.hospitalName, loginRequired: auth.required, csrfToken: auth.csrfToken(req) }));
      return true;
    }
    if (path === '/v1/session' && reading) {
      const identity = auth.identify(req);
      if (identity === null) unauthorized(res);
      else sendJson(res, 200, { identity, loginRequired: auth.required, csrfToken: auth.csrfToken(req) });
      return true;
    }
    if (path === LIVE_PATH) {
      sendJson(res, 426, { error: { code: 'upgrade_required', message: `${LIVE_PATH} is a WebSocket` } }, { upgrade: 'websocket' });
      return true;
    }
    const openable = OPENABLE_PATHS[path];
    if (openable !== undefined) {
      if (!auth.isOpen(openable) && auth.identify(req) === null) {
        unauthorized(res);
        return true;
      }
      if (path === '/readyz' && reading) {
        const report = this.options.readiness();
        sendJson(res, report.ready ? 200 : 503, report);
        return true;
      }
      return false;
    }
    // The message browser and the study routes: patient identifiers in keys, control ids and images, so never open.
    if ((path === '/v1/messages' || path.startsWith('/v1/messages/') || path === '/v1/rejections' || isStudyRoute(path)) && auth.identify(req) === null) {
      req.resume();
      unauthorized(res);
      return true;
    }
    // The inbound controls (inbound-routes.ts) act like feed controls, and the list names events: the same login.
    if (path.startsWith('/v1/admin/') || path === '/v1/inbound' || path.startsWith('/v1/inbound/')) {
      const identity = auth.identify(req);
      if (identity === null) {
        req.resume();
        unauthorized(res);
        return true;
      }
      const refusal = reading ? null : auth.adminWriteRefusal(req, identity);
      if (refusal) {
        req.resume();
        this.options.log.warn({ address: req.socket.remoteAddress, path, code: refusal.code }, 'admin action refused: not a same-origin JSON request with the CSRF token');
        sendJson(res, refusal.status, { error: { code: refusal.code, message: refusal.message } });
        return true;
      }
    }
    return false;
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    const identity: AdminIdentity | null = path === LIVE_PATH && sameOrigin(req) ? this.options.auth.identify(req) : null;
    if (identity === null) {
      socket.end(`HTTP/1.1 ${path === LIVE_PATH ? '401 Unauthorized' : '404 Not Found'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    this.options.hub.accept(req, socket, head, {
      admin: true,
      stillAuthorized: identity === 'session' ? () => this.options.auth.sessionAlive(req) : () => true,
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.options.hub.close(), this.options.auth.close()]);
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { auth, log } = this.options;
    const address = req.socket.remoteAddress ?? 'unknown';
    if (!sameOrigin(req)) {
      req.resume();
      this.sendHtml(res, 403, renderLoginPage({ hospitalName: this.options.hospitalName, error: 'This form must be sent from the dashboard itself.' }));
      return;
    }
    let password = '';
    try {
      password = new URLSearchParams(await readBody(req, MAX_LOGIN_BODY_BYTES)).get('password') ?? '';
    } catch {
      this.sendHtml(res, 413, renderLoginPage({ hospitalName: this.options.hospitalName, error: 'Login form too large.' }));
      return;
    }
    if (!auth.required) return redirect(res, '/');
    const outcome = await auth.login(password, address);
    if (outcome.ok) {
      log.info({ address }, 'dashboard login');
      redirect(res, '/', { 'set-cookie': auth.sessionCookie(outcome.sessionId, req) });
      return;
    }
    log.warn({ address, retryAfterMs: outcome.retryAfterMs }, 'dashboard login refused: wrong password');
    const wait = Math.ceil(outcome.retryAfterMs / 1000);
    const error = wait > 0 ? `Wrong password, or too many attempts: try again in ${wait} s. 密码错误或尝试过多，请 ${wait} 秒后重试。` : 'Wrong password. 密码错误。';
    this.sendHtml(res, wait > 0 ? 429 : 401, renderLoginPage({ hospitalName: this.options.hospitalName, error }), wait > 0 ? { 'retry-after': String(wait) } : {});
  }

  private serveAsset(req: IncomingMessage, res: ServerResponse, path: string): void {
    const asset = this.options.assets.get(path);
    if (!asset) return sendJson(res, 404, { error: { code: 'not_found', message: `no such asset: ${path}` } });
    const headers = { 'content-type': asset.contentType, etag: asset.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': asset.body.length });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  private sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...HTML_HEADERS, ...headers });
    res.end(html);
  }
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', ...headers }).end();
}

function unauthorized(res: ServerResponse): void {
  sendJson(
    res,
    401,
    { error: { code: 'unauthorized', message: 'log in at /login, or send "Authorization: Bearer <token>" with the token from http.admin' } },
    { 'www-authenticate': 'Bearer realm="wardline-agent"' },
  );
}


