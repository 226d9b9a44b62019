// The link's last 24 hours as a bar of coloured segments, one per state, with
// hour marks under it. Segments come from the snapshot (the agent's link
// history) and grow with each link frame.
import { h, fill } from './dom.js';
import { clock, duration, percent } from './format.js';
import { t } from './i18n.js';

export const TIMELINE_SPAN_MS = 24 * 60 * 60 * 1000;
export const HOUR_MS = 60 * 60 * 1000;
/** States of a link trying to come back; neighbouring ones draw as one retrying stretch. */
const RETRYING = new Set(['connecting', 'backoff']);

export class LinkTimelines {
  constructor() {
    /** relay -> [{ state, fromMs, toMs | null }] */
    this.byRelay = new Map();
  }

  load(timelines) {
    this.byRelay.clear();
    for (const [relay, segments] of Object.entries(timelines ?? {})) {
      const copy = segments.map((s) => ({ ...s }));
      // The last segment is the state now: it runs on until the next change.
      if (copy.length > 0) copy[copy.length - 1].toMs = null;
      this.byRelay.set(relay, copy);
    }
  }

  /** A link state change ({ relay, atMs, state }). */
  change({ relay, atMs, state }) {
    const segments = this.byRelay.get(relay) ?? [];
    const last = segments[segments.length - 1];
    if (last && last.toMs === null) {
      if (last.state === state) return;
      last.toMs = atMs;
    }
    segments.push({ state, fromMs: atMs, toMs: null });
    // A flapping link adds two segments a second: keep only what a day's bar shows.
    const cutoff = atMs - TIMELINE_SPAN_MS;
    while (segments.length > 1 && segments[0].toMs !== null && segments[0].toMs < cutoff) segments.shift();
    this.byRelay.set(relay, segments);
  }

  /** Renders relay's timeline into `el` for the `spanMs` (default 24 hours) before nowMs. */
  render(el, relay, nowMs, spanMs = TIMELINE_SPAN_MS) {
    const start = nowMs - spanMs;
    const segments = (this.byRelay.get(relay) ?? []).filter((s) => (s.toMs ?? nowMs) > start);
    const totals = {};
    const title = spanMs === TIMELINE_SPAN_MS ? t('link.timeline') : t('link.timelineHour');
    const bar = h('div', { class: 'timeline-bar', role: 'img', 'aria-label': title });
    // An outage's hundreds of connecting/backoff retries are drawn as one stretch:
    // thousands of slivers would cost the page more than they tell.
    const drawn = [];
    for (const s of segments) {
      const from = Math.max(start, s.fromMs);
      const to = s.toMs ?? nowMs;
      totals[s.state] = (totals[s.state] ?? 0) + (to - from);
      const last = drawn[drawn.length - 1];
      if (last && RETRYING.has(last.state) && RETRYING.has(s.state) && last.toMs === from) {
        last.state = 'backoff';
        last.toMs = to;
      } else drawn.push({ state: s.state, fromMs: from, toMs: to });
    }
    for (const { state, fromMs: from, toMs: to } of drawn) {
      const left = ((from - start) / spanMs) * 100;
      const width = ((to - from) / spanMs) * 100;
      bar.append(
        h('div', {
          class: `seg state-${state}`,
          style: `left:${left.toFixed(3)}%;width:max(2px,${width.toFixed(3)}%)`,
          title: `${t(`state.${state}`)} ${clock(from, nowMs)} – ${clock(to, nowMs)} (${duration((to - from) / 1000)})`,
        }),
      );
    }
    const ticks = h('div', { class: 'timeline-ticks' });
    // Eight marks or so, on round times: every 3 hours for a day, every 10 minutes for an hour.
    const step = spanMs >= TIMELINE_SPAN_MS ? 3 * HOUR_MS : 10 * 60_000;
    const offsetMs = new Date(nowMs).getTimezoneOffset() * 60_000;
    for (let at = Math.ceil((start - offsetMs) / step) * step + offsetMs; at <= nowMs; at += step) {
      const d = new Date(at);
      const label = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
      ticks.append(h('span', { style: `left:${(((at - start) / spanMs) * 100).toFixed(2)}%` }, label));
    }
    // Only the time the agent ran counts: not before it was installed (unknown), not while it was stopped (closed).
    const ran = Object.entries(totals).filter(([state]) => state !== 'unknown' && state !== 'closed').reduce((sum, [, ms]) => sum + ms, 0);
    const streaming = totals.streaming ?? 0;
    const uptime = ran > 0 ? ` · ${t('link.uptimeRan', { percent: percent((streaming / ran) * 100, 1), duration: duration(ran / 1000) })}` : '';
    const legend = h('div', { class: 'timeline-legend' }, title, uptime);
    fill(el, legend, bar, ticks);
  }
}
