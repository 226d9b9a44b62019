// The charts' data on the page: the agent's recent history from the snapshot,
// then one point per status frame, trimmed to the charts' span.
import { CHART_SPAN_SECONDS } from './charts.js';

const FEED_FIGURES = ['backlogEvents', 'backlogBytes', 'lagSeconds', 'inPerSecond', 'outPerSecond'];

export class History {
  constructor() {
    this.t = [];
    this.feeds = {};
    this.host = { cpuPercent: [], memoryPercent: [] };
  }

  /** Starts from the agent's columns (agent/operations/dashboard/metric-history.ts HistorySeries). */
  load(series) {
    this.t = [...series.t];
    this.feeds = {};
    for (const [feed, columns] of Object.entries(series.feeds)) {
      this.feeds[feed] = Object.fromEntries(FEED_FIGURES.map((f) => [f, [...columns[f]]]));
    }
    this.host = { cpuPercent: [...series.host.cpuPercent], memoryPercent: [...series.host.memoryPercent] };
  }

  /** Adds one HistoryPoint. */
  append(point) {
    const seconds = point.atMs / 1000;
    if (this.t.length > 0 && seconds <= this.t[this.t.length - 1]) return;
    this.t.push(seconds);
    for (const feed of Object.keys(point.feeds)) {
      if (!this.feeds[feed]) this.feeds[feed] = Object.fromEntries(FEED_FIGURES.map((f) => [f, new Array(this.t.length - 1).fill(null)]));
    }
    for (const [feed, columns] of Object.entries(this.feeds)) {
      const p = point.feeds[feed];
      for (const f of FEED_FIGURES) columns[f].push(p ? p[f] : null);
    }
    this.host.cpuPercent.push(point.host.cpuPercent);
    this.host.memoryPercent.push(point.host.memoryPercent);
    this.trim(seconds - CHART_SPAN_SECONDS);
  }

  trim(cutSeconds) {
    let drop = 0;
    while (drop < this.t.length && this.t[drop] < cutSeconds) drop++;
    if (drop === 0) return;
    this.t.splice(0, drop);
    for (const columns of Object.values(this.feeds)) for (const f of FEED_FIGURES) columns[f].splice(0, drop);
    this.host.cpuPercent.splice(0, drop);
    this.host.memoryPercent.splice(0, drop);
  }

  backlogColumns(feed) {
    const c = this.feeds[feed];
    return c ? [this.t, c.backlogEvents, c.lagSeconds] : [[], [], []];
  }

  throughputColumns(feed) {
    const c = this.feeds[feed];
    return c ? [this.t, c.inPerSecond, c.outPerSecond] : [[], [], []];
  }

  hostColumns() {
    return [this.t, this.host.cpuPercent, this.host.memoryPercent];
  }
}
