// The host: the data directory's disk (state, usage, forecast of when it is
// full, the journal's share), CPU and memory, with a chart of the last 30 min.
import { hostChart } from './charts.js';
import { figure, fill, h, setText } from './dom.js';
import { bytes, count, decimal, duration, percent } from './format.js';
import { t } from './i18n.js';

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
    const forecast = disk.forecastFullInSeconds === null ? t('host.notGrowing') : t('host.fullIn', { duration: duration(disk.forecastFullInSeconds) });
    diskBox.dataset.state = disk.state;
    fill(
      diskBox,
      h('div', { class: 'stat-label' }, t('host.disk'), ' ', h('span', { class: `badge disk-${disk.state}` }, t(`host.state.${disk.state}`))),
      h('div', { class: 'big' }, figure('disk.usedPercent', disk.usedPercent, known ? t('host.used', { percent: percent(disk.usedPercent) }) : t('host.notRead'))),
      meter(disk.usedPercent),
      h('div', { class: 'sub' }, figure('disk.freeBytes', disk.freeBytes, known ? t('host.free', { free: bytes(disk.freeBytes), total: bytes(disk.totalBytes) }) : '')),
      h('div', { class: 'sub' }, figure('disk.forecastFullInSeconds', disk.forecastFullInSeconds, forecast)),
      disk.reason ? h('div', { class: 'sub warn-text' }, disk.reason) : null,
      h('div', { class: 'sub muted' }, disk.mount ? `${disk.path} · ${disk.mount}` : disk.path),
      h('div', { class: 'sub muted' }, t('host.journal', { size: bytes(disk.journalBytes ?? 0), rows: count(disk.journalRows) })),
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
