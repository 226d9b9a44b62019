// Live charts with uPlot (bundled with the agent, served from /assets/uplot/):
// per feed, backlog and lag, and throughput in and out; for the host, CPU and
// memory. Charts keep their data as columns and take one point per sample.
import uPlot from '/assets/uplot/uPlot.esm.js';
import { clippedTop } from './chart-scale.js';
import { t } from './i18n.js';
import { count, decimal } from './format.js';

/** The charts show at most this much, in seconds (the agent keeps as much). */
export const CHART_SPAN_SECONDS = 30 * 60;
/** …and at least this much, so a fresh agent's first minutes are not a sliver at the right edge. */
const MIN_CHART_SPAN_SECONDS = 5 * 60;

const AXIS = { stroke: '#9aa7b4', grid: { stroke: 'rgba(154,167,180,0.15)', width: 1 }, ticks: { stroke: 'rgba(154,167,180,0.25)', width: 1 } };
export const COLORS = { backlog: '#f0a03c', lag: '#e5534b', in: '#58a6ff', out: '#3fb950', cpu: '#d2a8ff', memory: '#58a6ff' };

function chartHeight() {
  // Taller on a wall screen, never cramped on a laptop.
  return Math.round(Math.min(260, Math.max(130, window.innerHeight * 0.17)));
}

function timeAxis() {
  // 24-hour clock; seconds only when the marks are closer than a minute (else "22:13 22:13").
  const label = (s, withSeconds) => new Date(s * 1000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: withSeconds ? '2-digit' : undefined, hour12: false });
  return { ...AXIS, space: 70, values: (u, splits, axis, space, incr) => splits.map((s) => label(s, incr < 60)) };
}

/**
 * A chart over time with the given series; `data` is [t[], ...columns].
 * @param {HTMLElement} target
 * @param {{ label: string, color: string, scale?: string, fill?: boolean, format?: (v: number) => string }[]} series
 * @param {{ scales?: Record<string, object>, axes?: object[] }} options
 */
export function timeChart(target, series, data, options = {}) {
  const chart = new uPlot(
    {
      width: Math.max(200, target.clientWidth),
      height: chartHeight(),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, ...options.scales },
      axes: [timeAxis(), ...(options.axes ?? [{ ...AXIS, size: 60 }])],
      series: [
        { label: t('chart.time') },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          scale: s.scale ?? 'y',
          fill: s.fill ? `${s.color}26` : undefined,
          value: (u, v) => (v === null || v === undefined ? '—' : (s.format ?? count)(v)),
          points: { show: false },
          spanGaps: false,
        })),
      ],
    },
    data,
    target,
  );
  const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, target.clientWidth), height: chartHeight() }));
  resize.observe(target);
  return {
    chart,
    /** Replaces the columns (after appending a point) and keeps the window at the last CHART_SPAN_SECONDS. */
    update(columns) {
      const tColumn = columns[0];
      const last = tColumn[tColumn.length - 1] ?? Date.now() / 1000;
      const extent = tColumn.length > 0 ? last - tColumn[0] : 0;
      const span = Math.min(CHART_SPAN_SECONDS, Math.max(MIN_CHART_SPAN_SECONDS, extent));
      chart.setData(columns, false);
      chart.setScale('x', { min: last - span, max: last });
    },
    destroy() {
      resize.disconnect();
      chart.destroy();
    },
  };
}

/** Backlog (events, left axis) and lag (seconds, right axis) of one feed. */
export function backlogChart(target, data) {
  return timeChart(
    target,
    [
      { label: t('chart.backlog'), color: COLORS.backlog, fill: true },
      { label: t('chart.lag'), color: COLORS.lag, scale: 's', format: (v) => decimal(v, 1) },
    ],
    data,
    {
      scales: { y: { range: (u, min, max) => [0, Math.max(10, max * 1.1)] }, s: { range: (u, min, max) => [0, Math.max(5, max * 1.1)] } },
      axes: [{ ...AXIS, size: 64 }, { ...AXIS, scale: 's', side: 1, size: 50, grid: { show: false } }],
    },
  );
}

/** Events in and out per second of one feed. */
export function throughputChart(target, data) {
  return timeChart(
    target,
    [
      { label: t('chart.in'), color: COLORS.in, format: (v) => decimal(v, 1) },
      { label: t('chart.out'), color: COLORS.out, format: (v) => decimal(v, 1) },
    ],
    data,
    // Fitted to what is on screen, with a drain spike clipped (chart-scale.js).
    { scales: { y: { range: (u) => [0, clippedTop(visible(u))] } } },
  );
}

/** The y columns' values inside the x window shown. */
function visible(u) {
  const [times, ...columns] = u.data;
  const min = u.scales.x.min ?? -Infinity;
  const max = u.scales.x.max ?? Infinity;
  const from = times.findIndex((s) => s >= min);
  if (from < 0) return [];
  let to = times.length;
  while (to > from && times[to - 1] > max) to--;
  return columns.map((c) => c.slice(from, to));
}

/** CPU and memory, in percent. */
export function hostChart(target, data) {
  return timeChart(
    target,
    [
      { label: t('chart.cpu'), color: COLORS.cpu, format: (v) => decimal(v, 0) },
      { label: t('chart.memory'), color: COLORS.memory, format: (v) => decimal(v, 0) },
    ],
    data,
    { scales: { y: { range: [0, 100] } }, axes: [{ ...AXIS, size: 44 }] },
  );
}
