// Numbers, sizes, durations and times as people on duty read them, in the
// dashboard's current language.
import { language, t } from './i18n.js';

function locale() {
  return language() === 'zh' ? 'zh-CN' : 'en-GB';
}

/** 12,345 */
export function count(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 0 }).format(n);
}

/** "1 event", "12 events", "12 条": a count with its noun, singular for one. */
export function events(n) {
  return t(n === 1 ? 'unit.event.one' : 'unit.events', { n: count(n) });
}

/** 12.3 */
export function decimal(n, digits = 1) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(n);
}

/** 1.5 MiB */
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${count(value)} B` : `${decimal(value, 1)} ${units[unit]}`;
}

/** 2.4 Mbit/s: lines are bought and talked about in bits. */
export function bitRate(bytesPerSecond) {
  if (bytesPerSecond === null || bytesPerSecond === undefined) return '—';
  const bits = bytesPerSecond * 8;
  if (bits >= 1e9) return `${decimal(bits / 1e9, 2)} Gbit/s`;
  if (bits >= 1e6) return `${decimal(bits / 1e6, 1)} Mbit/s`;
  if (bits >= 1e3) return `${decimal(bits / 1e3, 1)} kbit/s`;
  return `${count(bits)} bit/s`;
}

/** 45 s, 12 min, 3.5 h, 2.1 days */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.max(0, seconds);
  if (s < 120) return t('unit.s', { n: count(Math.round(s)) });
  if (s < 7200) return t('unit.min', { n: count(Math.round(s / 60)) });
  if (s < 172_800) return t('unit.h', { n: decimal(s / 3600, 1) });
  return t('unit.d', { n: decimal(s / 86_400, 1) });
}

/** 14:03:07 today, otherwise 11-21 14:03 */
export function clock(ms, nowMs = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const date = new Date(ms);
  const sameDay = new Date(nowMs).toDateString() === date.toDateString();
  return sameDay
    ? date.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
    : date.toLocaleString(locale(), { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
}

/** "3 min ago" */
export function ago(ms, nowMs = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  return t('ago', { duration: duration((nowMs - ms) / 1000) });
}

/** "in 5 s" */
export function fromNow(ms, nowMs = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  return t('in', { duration: duration((ms - nowMs) / 1000) });
}

/** 97.5 % */
export function percent(n, digits = 1) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return `${decimal(n, digits)} %`;
}
