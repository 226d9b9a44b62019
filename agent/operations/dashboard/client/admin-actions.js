// The operator's buttons: reconnect a link, pause or resume a feed. They call
// the agent's admin endpoints with the page's login (the session cookie) and
// the CSRF token the page was served with, as JSON (the agent refuses any
// other admin request from a browser); it answers 401 when the login is gone
// and the page goes to the form.
import { kindText, t } from './i18n.js';
import { toast } from './toast.js';

/** POST /v1/admin/feeds/{feed}/pause */
export function pauseFeed(feed) {
  if (!confirm(t('feed.pause.confirm', { feed }))) return Promise.resolve(false);
  return post(`/v1/admin/feeds/${encodeURIComponent(feed)}/pause`, `${t('feed.pause')} ${feed}`);
}

/** POST /v1/admin/feeds/{feed}/resume */
export function resumeFeed(feed) {
  if (!confirm(t('feed.resume.confirm', { feed }))) return Promise.resolve(false);
  return post(`/v1/admin/feeds/${encodeURIComponent(feed)}/resume`, `${t('feed.resume')} ${feed}`);
}

/** POST /v1/inbound/{channel}/pause */
export function pauseInbound(channel) {
  if (!confirm(t('inbound.pause.confirm', { channel }))) return Promise.resolve(false);
  return post(`/v1/inbound/${encodeURIComponent(channel)}/pause`, `${t('inbound.pause')} ${channel}`);
}

/** POST /v1/inbound/{channel}/resume */
export function resumeInbound(channel) {
  return post(`/v1/inbound/${encodeURIComponent(channel)}/resume`, `${t('inbound.resume')} ${channel}`);
}

/** POST /v1/inbound/events/{id}/replay */
export function replayInbound(id) {
  if (!confirm(t('inbound.replay.confirm', { id }))) return Promise.resolve(false);
  return post(`/v1/inbound/events/${encodeURIComponent(id)}/replay`, `${t('inbound.replay')} ${id}`);
}

/** POST /v1/inbound/events/{id}/refuse with the reason the vendor is sent. */
export function refuseInbound(id) {
  const reason = prompt(t('inbound.refuse.prompt', { id }));
  if (!reason) return Promise.resolve(false);
  return post(`/v1/inbound/events/${encodeURIComponent(id)}/refuse`, `${t('inbound.refuse')} ${id}`, JSON.stringify({ reason }));
}

/** POST /v1/admin/reconnect */
export function reconnectNow() {
  return post('/v1/admin/reconnect', t('link.reconnectNow'));
}

/** The token in the page's <meta name="wardline-csrf"> (agent/operations/dashboard/dashboard-page.ts). */
function csrfToken() {
  return document.querySelector('meta[name="wardline-csrf"]')?.getAttribute('content') ?? '';
}

async function post(path, label, body = '{}') {
  let response;
  try {
    response = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-wardline-csrf': csrfToken() }, body });
  } catch (error) {
    toast(t('action.failed', { action: label, reason: error.message }), 'error');
    return false;
  }
  if (response.status === 401) {
    location.assign('/login');
    return false;
  }
  if (response.ok) {
    toast(t('action.done', { action: label }), 'ok');
    return true;
  }
  let reason = `HTTP ${response.status}`;
  if (response.status === 404 || response.status === 405) reason = t('action.notAvailable', { status: response.status });
  else {
    try {
      const error = (await response.json()).error;
      // The agent restarted since this page was served: its token is a new one.
      if (error?.code === 'csrf_token') {
        location.reload();
        return false;
      }
      reason = kindText('adminError', error?.code, error?.message) || reason;
    } catch {
      // not JSON: keep the status
    }
  }
  toast(t('action.failed', { action: label, reason }), 'error');
  return false;
}
