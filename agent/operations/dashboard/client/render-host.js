// The host: the data directory's disk (state, usage, forecast of when it is
// full, the journal's share), CPU and memory, with a chart of the last 30 min.
import { hostChart } from './charts.js';
import { figure, fill, h, setText } from './dom.js';
import { bytes, decimal, duration, events, percent } from './format.js';
import { diskBadge } from './disk-badge.js';
import { kindText, t } from './i18n.js';

let chart = null;

export function resetHostChart() {
  chart?.destroy();
  chart = null;
}

function meter(value) {
  const pct = Math.max(0, Math.min(100, value ?? 0));
  return h('div', { class: 'meter' }, h('div', { class: 'meter-fill', style: `width:${pct}%` }));
}

export function renderHost(panel, view) {
  const { status, host, history } = view;
  const disk = status.disk;
  const diskBox = panel.querySelector('[data-role="disk"]');
  if (!disk) fill(diskBox);
  else {
    const known = disk.usedPercent !== null;
    // Wardline's own share, smoothed, when the agent says; the whole disk's otherwise.
    const fullIn = disk.wardlineForecast ? disk.wardlineForecast.fullInSeconds : disk.forecastFullInSeconds;
    const forecast = fullIn === null ? t('host.notGrowing') : t(disk.wardlineForecast ? 'host.forecastShare' : 'host.fullIn', { duration: duration(fullIn) });
    const shown = diskBadge(disk.state, fullIn);
    diskBox.dataset.state = shown;
    fill(
      diskBox,
      h('div', { class: 'stat-label' }, t('host.disk'), ' ', h('span', { class: `badge disk-${shown === 'soon' ? 'warning' : shown}` }, t(`host.state.${shown}`))),
      h('div', { class: 'big' }, figure('disk.usedPercent', disk.usedPercent, known ? t('host.used', { percent: percent(disk.usedPercent) }) : t('host.notRead'))),
      meter(disk.usedPercent),
      h('div', { class: 'sub' }, figure('disk.freeBytes', disk.freeBytes, known ? t('host.free', { free: bytes(disk.freeBytes), total: bytes(disk.totalBytes) }) : '')),
      h('div', { class: 'sub' }, figure('disk.forecastFullInSeconds', fullIn, forecast)),
      disk.reason ? h('div', { class: 'sub warn-text' }, kindText('diskReason', disk.reasonKind, disk.reason)) : null,
      h('div', { class: 'sub muted' }, disk.mount ? `${disk.path} · ${disk.mount}` : disk.path),
      h('div', { class: 'sub muted' }, t('host.journalHeld', { size: bytes(disk.journalBytes ?? 0), events: events(disk.journalRows) })),
    );
  }
  const cpuBox = panel.querySelector('[data-role="cpu"]');
  const memBox = panel.querySelector('[data-role="memory"]');
  const memoryPercent = host && host.memoryTotalBytes ? (host.memoryUsedBytes / host.memoryTotalBytes) * 100 : null;
  fill(
    cpuBox,
    h('div', { class: 'stat-label' }, t('host.cpu')),
    h('div', { class: 'big' }, figure('host.cpuPercent', host?.cpuPercent ?? null, host?.cpuPercent === undefined ? '—' : percent(host.cpuPercent, 0))),
    meter(host?.cpuPercent),
    h('div', { class: 'sub muted' }, host?.cpuCores ? t('host.cores', { cores: host.cpuCores, load: host.load1 === null ? '—' : decimal(host.load1, 2) }) : ''),
  );
  fill(
    memBox,
    h('div', { class: 'stat-label' }, t('host.memory')),
    h('div', { class: 'big' }, figure('host.memoryPercent', memoryPercent, memoryPercent === null ? '—' : percent(memoryPercent, 0))),
    meter(memoryPercent),
    h('div', { class: 'sub muted' }, host?.memoryTotalBytes ? t('host.memoryUsed', { used: bytes(host.memoryUsedBytes), total: bytes(host.memoryTotalBytes) }) : ''),
  );
  setText(panel.querySelector('[data-role="hostname"]'), host?.hostname ?? '');
  const target = panel.querySelector('[data-role="host-chart"]');
  if (!chart) chart = hostChart(target, history.hostColumns());
  chart.update(history.hostColumns());
}
