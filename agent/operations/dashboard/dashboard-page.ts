// The dashboard's HTML: a shell the page script (client/dashboard.js) fills
// from the live channel. Served entirely by the agent: no CDN, no fonts from
// the internet (the hospital LAN may be cut off from it).
import { DASHBOARD_CSS } from './dashboard-styles.js';

export interface DashboardPageOptions {
  /** Shown before the first frame arrives. */
  hospitalName: string;
  /** Whether a login is configured (no: the page warns that it is open to all). */
  loginRequired: boolean;
  /** Sent back with every admin action (AdminAuth.csrfToken). */
  csrfToken: string;
}

export function renderDashboardPage(options: DashboardPageOptions): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="dark">
<meta name="wardline-csrf" content="${escapeHtml(options.csrfToken)}">
<link rel="icon" href="data:,">
<title>Wardline · ${escapeHtml(options.hospitalName)}</title>
<link rel="stylesheet" href="/assets/uplot/uPlot.min.css">
<style>${DASHBOARD_CSS}</style>
<script type="module" src="/assets/app/dashboard.js"></script>
</head><body data-login-required="${options.loginRequired}">
<header class="top">
  <div class="brand"><div class="logo">Wardline</div><div><div id="hospital" class="hospital">${escapeHtml(options.hospitalName)}</div><div id="agent-id" class="muted small"></div></div></div>
  <div id="verdict" class="verdict" data-verdict="unknown" aria-live="polite"><div class="verdict-title"></div><div class="verdict-detail"></div></div>
  <div class="tools">
    <span id="live" data-live="connecting"><span class="dot"></span><span class="live-text"></span></span>
    <button id="lang" type="button" data-i18n="lang.switch">中文</button>
    <form id="logout" method="post" action="/logout"${options.loginRequired ? '' : ' hidden'}><button type="submit" data-i18n="logout">Log out</button></form>
  </div>
</header>
<div id="open-warning" class="banner" data-i18n="open.warning"${options.loginRequired ? ' hidden' : ''}></div>
<main>
  <section id="links" class="panel span-all"><h2 data-i18n="section.links"></h2><div id="link-list"></div></section>
  <section id="feeds" class="panel span-all"><h2 data-i18n="section.feeds"></h2><div id="feed-list"></div></section>
  <section id="sources" class="panel"><h2 data-i18n="section.sources"></h2>
    <table class="table"><thead><tr></tr></thead><tbody></tbody></table><p class="muted" data-role="empty" data-i18n="source.none" hidden></p></section>
  <section id="capture" class="panel span-all" hidden><h2 data-i18n="section.capture"></h2><div data-role="list"></div></section>
  <section id="imaging" class="panel span-all" hidden><h2 data-i18n="section.imaging"></h2><div data-role="list"></div></section>
  <section id="inbound" class="panel span-all" hidden><h2 data-i18n="section.inbound"></h2>
    <div class="table-scroll" data-role="channels"><table class="table"><thead><tr></tr></thead><tbody></tbody></table></div>
    <div data-role="quarantined" hidden><h3 data-i18n="inbound.quarantinedEvents"></h3><div class="table-scroll"><table class="table"><thead><tr></tr></thead><tbody></tbody></table></div></div></section>
  <section id="alerts" class="panel"><h2><span data-i18n="section.alerts"></span><span class="badge badge-bad" data-role="count" hidden></span></h2><ul class="alert-list" data-role="list"></ul></section>
  <section id="host" class="panel"><h2><span data-i18n="section.host"></span><span class="muted hostname" data-role="hostname"></span></h2>
    <div class="host-grid"><div class="host-box" data-role="disk"></div><div class="host-box" data-role="cpu"></div><div class="host-box" data-role="memory"></div></div><div data-role="host-chart"></div></section>
  <section id="bandwidth" class="panel"><h2 data-i18n="section.bandwidth"></h2><div data-role="body"></div></section>
  <section id="ledger" class="panel span-all" hidden><h2 data-i18n="section.ledger"></h2><p class="muted" data-role="summary"></p>
    <div class="table-scroll"><table class="table"><thead><tr></tr></thead><tbody></tbody></table></div></section>
  <section id="messages" class="panel span-all"><h2 data-i18n="section.messages"></h2>
    <form data-role="search" class="message-search"><input name="controlId" data-i18n-placeholder="messages.controlId"><input name="key" data-i18n-placeholder="messages.key"><input name="stream" data-i18n-placeholder="messages.stream"><label><span data-i18n="messages.from"></span> <input type="datetime-local" step="1" name="from"></label><label><span data-i18n="messages.to"></span> <input type="datetime-local" step="1" name="to"></label><button type="submit" data-i18n="messages.search"></button></form>
    <div data-role="results"></div>
    <h3><span data-i18n="messages.rejected"></span> <button type="button" data-role="refresh-rejections" data-i18n="messages.rejected.refresh"></button></h3><div data-role="rejected"></div></section>
</main>
<footer><span id="updated"></span> · <a href="/v1/status">/v1/status</a> · <a href="/metrics">/metrics</a></footer>
<div id="toasts" aria-live="polite"></div>
<noscript><p class="banner">This dashboard needs JavaScript. The same figures: <a href="/v1/status">/v1/status</a>.</p></noscript>
</body></html>`;
}

/** Text for HTML: the hospital's name is configuration, not markup. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
