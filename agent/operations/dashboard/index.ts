// The operations dashboard: what other parts may use. The page's own scripts
// are in client/ (plain browser modules, served by DashboardAssets).
export { DashboardAssets, APP_ASSET_PREFIX, UPLOT_ASSET_PREFIX, type DashboardAsset } from './dashboard-assets.js';
export { DashboardHub, CLOSE_UNAUTHORIZED, DEFAULT_HEARTBEAT_MS, MAX_BUFFERED_BYTES, type DashboardHubOptions, type HubClientAccess } from './dashboard-hub.js';
export { renderDashboardPage, escapeHtml, type DashboardPageOptions } from './dashboard-page.js';
export { renderLoginPage, type LoginPageOptions } from './login-page.js';
export { LinkHistory, type LinkHistoryEntry } from './link-history.js';
export { linkTimeline, timeInState, TIMELINE_SPAN_MS, type TimelineSegment } from './link-timeline.js';
export { MetricHistory, DEFAULT_HISTORY_SPAN_MS, MAX_HISTORY_POINTS, type FeedPoint, type HistoryPoint, type HistorySeries } from './metric-history.js';
export { StatusSampler, DEFAULT_SAMPLE_INTERVAL_MS, MAX_DUTY_FACTOR, type StatusSamplerOptions, type StatusFrame } from './status-sampler.js';
