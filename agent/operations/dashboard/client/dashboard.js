// The dashboard page: holds what the agent pushed over the live channel and
// renders it, once per frame. Everything on the page comes from the same
// status the agent serves at /v1/status (agent/operations/dashboard/status-sampler.ts).
import { setText } from './dom.js';
import { clock } from './format.js';
import { History } from './history.js';
import { language, setLanguage, t } from './i18n.js';
import { connectLive } from './live-connection.js';
import { renderAlerts } from './render-alerts.js';
import { renderBandwidth } from './render-bandwidth.js';
import { renderCapture } from './render-capture.js';
import { renderImaging } from './render-imaging.js';
import { renderFeeds, resetFeedCharts } from './render-feeds.js';
import { renderHost, resetHostChart } from './render-host.js';
import { renderInbound } from './render-inbound.js';
import { renderLedger } from './render-ledger.js';
import { renderLinks } from './render-links.js';
import { setupMessages } from './render-messages.js';
import { renderSources } from './render-sources.js';
import { LinkTimelines } from './timeline.js';
import { verdict } from './verdict.js';

/** Newest alerts kept on the page. */
const MAX_ALERTS = 100;
/** No frame for this long: the figures are shown as stale, in ms. */
const STALE_AFTER_MS = 5_000;
/**
 * The live channel lost this long (or no frame for UNREACHABLE_SILENT_MS while it
 * seems open): the verdict says the agent is unreachable, in ms. Long enough for
 * a reload of the agent's page, short enough for night duty to see a dead agent.
 */
export const UNREACHABLE_AFTER_MS = 3_000;
const UNREACHABLE_SILENT_MS = 10_000;

const state = {
  context: null,
  status: null,
  host: null,
  /** The agent's clock minus ours, so "3 min ago" is the agent's three minutes. */
  skewMs: 0,
  lastFrameAt: 0,
  /** The live channel's state, and when (our clock) it was last lost; null while live. */
  live: 'connecting',
  liveLostAt: null,
  alerts: [],
  history: new History(),
  timelines: new LinkTimelines(),
};

const $ = (id) => document.getElementById(id);

function now() {
  return Date.now() + state.skewMs;
}

function onFrame(frame) {
  state.lastFrameAt = Date.now();
  if (typeof frame.nowMs === 'number') state.skewMs = frame.nowMs - Date.now();
  switch (frame.type) {
    case 'snapshot':
      state.context = frame.context;
      state.status = frame.status;
      state.host = frame.host;
      state.alerts = frame.alerts ?? [];
      state.history.load(frame.history);
      state.timelines.load(frame.timelines);
      resetFeedCharts();
      resetHostChart();
      break;
    case 'status':
      state.status = frame.status;
      state.host = frame.host;
      state.history.append(frame.point);
      break;
    case 'alert':
      if (!state.alerts.some((a) => a.id === frame.alert.id)) state.alerts = [frame.alert, ...state.alerts].slice(0, MAX_ALERTS);
      break;
    case 'link':
      state.timelines.change(frame);
      break;
    default:
      return;
  }
  render();
}

function render() {
  const { status, context } = state;
  renderStatic();
  if (!status || !context) return;
  const nowMs = now();
  const lost = reach();
  const view = { status, host: state.host, nowMs, reach: lost, history: state.history, timelines: state.timelines, alerts: state.alerts, admin: context.admin, schedule: context.schedule };
  const v = verdict(status, nowMs, lost);
  const box = $('verdict');
  box.dataset.verdict = v.level;
  setText(box.querySelector('.verdict-title'), v.title);
  setText(box.querySelector('.verdict-detail'), v.detail);
  document.title = `${v.level === 'ok' ? '✓' : v.level === 'bad' ? '✕' : '!'} ${status.hospital.name || status.hospital.id} · Wardline`;
  setText($('hospital'), `${status.hospital.name || status.hospital.id}`);
  setText($('agent-id'), `${status.agentId} · v${status.version}`);
  $('open-warning').hidden = context.loginRequired;
  renderLinks($('link-list'), view);
  renderFeeds($('feed-list'), view);
  renderSources($('sources'), view);
  renderCapture($('capture'), view);
  renderImaging($('imaging'), view);
  renderHost($('host'), view);
  renderBandwidth($('bandwidth'), view);
  renderAlerts($('alerts'), view);
  renderInbound($('inbound'), view);
  renderLedger($('ledger'), view);
  setText($('updated'), t('footer.updated', { time: clock(nowMs, nowMs) }));
}

/**
 * Whether the page has lost the agent: since when, on the agent's clock. The
 * last frame is when the agent was last known to run, so "since" counts from it.
 */
function reach() {
  const nowLocal = Date.now();
  const lost = state.liveLostAt !== null && nowLocal - state.liveLostAt >= UNREACHABLE_AFTER_MS;
  const silent = state.lastFrameAt > 0 && nowLocal - state.lastFrameAt >= UNREACHABLE_SILENT_MS;
  if (!lost && !silent) return null;
  const lastKnown = state.lastFrameAt > 0 ? state.lastFrameAt : state.liveLostAt;
  return { unreachableSinceMs: lastKnown + state.skewMs };
}

/** Words that do not depend on the agent's figures. */
function renderStatic() {
  for (const el of document.querySelectorAll('[data-i18n]')) setText(el, t(el.dataset.i18n));
  const logout = $('logout');
  if (logout) logout.hidden = !(state.context?.loginRequired ?? document.body.dataset.loginRequired === 'true');
}

function setLive(liveState) {
  if (liveState === 'live') state.liveLostAt = null;
  else if (state.liveLostAt === null && state.live === 'live') state.liveLostAt = Date.now();
  state.live = liveState;
  const el = $('live');
  el.dataset.live = liveState;
  setText(el.querySelector('.live-text'), t(`live.${liveState}`));
}

function watchStaleness() {
  setInterval(() => {
    const stale = state.lastFrameAt > 0 && Date.now() - state.lastFrameAt > STALE_AFTER_MS;
    document.body.classList.toggle('stale', stale);
    // The verdict turns red while no frame comes: render without one.
    if (state.status && (state.liveLostAt !== null || stale)) render();
  }, 1_000);
}

function start() {
  setLanguage(language());
  $('lang').addEventListener('click', () => {
    setLanguage(language() === 'zh' ? 'en' : 'zh');
    // Chart labels are drawn into the charts: make them again in the new language.
    resetFeedCharts();
    resetHostChart();
    render();
    setLive($('live').dataset.live);
  });
  renderStatic();
  watchStaleness();
  connectLive({ onFrame, onState: setLive });
  setupMessages($('messages'));
  // Relative times ("3 min ago") move on between frames too.
  setInterval(() => state.status && render(), 5_000);
}

start();
