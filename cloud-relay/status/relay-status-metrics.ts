// Prometheus metrics for what the status page shows: per hospital and feed the
// high-water mark, events stored, the last batch, the retention floor and what
// retention removed; agents connected per
// hospital; per vendor key and consumer its cursors and lag in each granted feed; per hospital
// and inbound channel what waits for the agent; which process this is, the
// processes sharing the store, who holds each stream, whether the store is
// reachable and how the live tail hears of other processes' commits. Read from
// the status at scrape time; labels carry hospital ids, feed, vendor and consumer names
// and channel names only — never anything from an event.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RelayStatus } from './relay-status.js';

export function registerRelayStatusMetrics(registry: Registry, status: () => Promise<RelayStatus>): void {
  // Every gauge's collect hook waits for the same status read: a scrape collects
  // the metrics concurrently, and the status is read asynchronously.
  let pending: Promise<void> | undefined;
  function refreshOnce(): Promise<void> {
    return (pending ??= refresh().finally(() => (pending = undefined)));
  }
  const agents = new Gauge({ name: 'wardline_relay_hospital_agents_connected', help: 'Agent streams open per hospital', labelNames: ['hospital'], registers: [registry], collect: refreshOnce });
  const highWater = new Gauge({ name: 'wardline_relay_feed_high_water_seq', help: 'The last journal seq stored durably, per hospital and feed', labelNames: ['hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const events = new Gauge({ name: 'wardline_relay_feed_events', help: 'Events stored per hospital and feed', labelNames: ['hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const lastBatch = new Gauge({ name: 'wardline_relay_feed_last_batch_timestamp_seconds', help: 'When the last batch of the feed was stored, seconds since the epoch', labelNames: ['hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const cursor = new Gauge({ name: 'wardline_relay_vendor_cursor_seq', help: 'The seq of the last event handed to the vendor key as the consumer ("" = reads naming none), by whichever relay process served it (kept in the store across restarts)', labelNames: ['vendor', 'consumer', 'hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const lagEvents = new Gauge({ name: 'wardline_relay_vendor_lag_events', help: 'Events stored after the vendor key\'s cursor (counted up to 100000)', labelNames: ['vendor', 'consumer', 'hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const lagSeconds = new Gauge({ name: 'wardline_relay_vendor_lag_seconds', help: 'How long the oldest event the vendor key has not read has waited at the relay', labelNames: ['vendor', 'consumer', 'hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const inboundWaiting = new Gauge({ name: 'wardline_relay_inbound_waiting', help: 'Inbound events not yet acknowledged by the hospital\'s agent (waiting or on the wire), per hospital and channel', labelNames: ['hospital', 'channel'], registers: [registry], collect: refreshOnce });
  const inboundOldest = new Gauge({ name: 'wardline_relay_inbound_oldest_waiting_seconds', help: 'How long the oldest inbound event not yet acknowledged by the agent has waited at the relay, per hospital and channel', labelNames: ['hospital', 'channel'], registers: [registry], collect: refreshOnce });
  // Named consumers: the committed cursor, and 1 for a cursor past the feed's head (a stale cursor: an error, not "caught up").
  const committed = new Gauge({ name: 'wardline_relay_vendor_committed_cursor_seq', help: 'The cursor the vendor key last committed for the named consumer (where a read naming it and no cursor starts)', labelNames: ['vendor', 'consumer', 'hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const aheadOfHead = new Gauge({ name: 'wardline_relay_vendor_cursor_ahead_of_head', help: '1 when the consumer\'s last read or committed cursor is past the feed\'s high-water mark (a cursor from an older copy of the feed), else 0', labelNames: ['vendor', 'consumer', 'hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const following = new Gauge({ name: 'wardline_relay_vendor_subscriptions', help: 'Live (follow) subscriptions the vendor key holds open', labelNames: ['vendor', 'consumer', 'hospital', 'feed'], registers: [registry], collect: refreshOnce });

  // Per process: several relay processes behind one load balancer are scraped one by one; process_id tells their series apart.
  const processInfo = new Gauge({ name: 'wardline_relay_instance_info', help: 'Always 1; the labels say which relay process answered (process_id, host, pid, store)', labelNames: ['process_id', 'host', 'pid', 'store'], registers: [registry], collect: refreshOnce });
  const processes = new Gauge({ name: 'wardline_relay_processes', help: 'Relay processes on this relay\'s store, by state (alive: heartbeat within processTimeoutMs; gone: older)', labelNames: ['state'], registers: [registry], collect: refreshOnce });
  const streamHolder = new Gauge({ name: 'wardline_relay_stream_holder', help: 'Always 1 per hospital whose agent is connected; process_id holds its stream', labelNames: ['hospital', 'process_id'], registers: [registry], collect: refreshOnce });
  const storeReachable = new Gauge({ name: 'wardline_relay_store_reachable', help: '1 while the relay\'s store answers, 0 while it is unreachable (GET /readyz is false then)', registers: [registry], collect: refreshOnce });
  const liveTailListening = new Gauge({ name: 'wardline_relay_live_tail_listening', help: '1 while the LISTEN connection of the cross-process live tail is up (PostgreSQL); tails fall back to polling while 0', registers: [registry], collect: refreshOnce });
  // Retention: the floor is the store's (every process shows the same); removed counts are this process's sweeps since start.
  const retentionFloor = new Gauge({ name: 'wardline_relay_feed_retention_floor_seq', help: 'The seq of the newest event retention removed from the feed (0 = none): a cursor below it is refused (WL_CURSOR_BELOW_RETENTION)', labelNames: ['hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const retentionRemoved = new Counter({ name: 'wardline_relay_retention_removed_events_total', help: 'Events this relay process\'s retention sweeps removed from the feed since it started', labelNames: ['hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const retentionRemovedBytes = new Counter({ name: 'wardline_relay_retention_removed_bytes_total', help: 'Body bytes this relay process\'s retention sweeps removed from the feed since it started', labelNames: ['hospital', 'feed'], registers: [registry], collect: refreshOnce });
  const liveTail = new Counter({ name: 'wardline_relay_live_tail_total', help: 'What the cross-process live tail did since start: doorbell notifications heard, polls of every feed\'s marks, failed polls, LISTEN reconnects', labelNames: ['event'], registers: [registry], collect: refreshOnce });

  async function refresh(): Promise<void> {
    const s = await status();
    for (const g of [committed, aheadOfHead]) g.reset();
    for (const g of [agents, highWater, events, lastBatch, retentionFloor, cursor, lagEvents, lagSeconds, following, inboundWaiting, inboundOldest, processInfo, processes, streamHolder, storeReachable, liveTailListening]) g.reset();
    for (const c of [liveTail, retentionRemoved, retentionRemovedBytes]) c.reset();
    if (s.cluster) {
      const c = s.cluster;
      const self = c.processes.find((p) => p.processId === c.thisProcess);
      processInfo.set({ process_id: c.thisProcess, host: self?.host ?? '', pid: String(self?.pid ?? process.pid), store: c.store.kind }, 1);
      processes.set({ state: 'alive' }, c.processes.filter((p) => p.alive).length);
      processes.set({ state: 'gone' }, c.processes.filter((p) => !p.alive).length);
      for (const h of c.streams) streamHolder.set({ hospital: h.hospital, process_id: h.processId }, 1);
      storeReachable.set(c.store.reachable ? 1 : 0);
      if (c.liveTail) {
        liveTailListening.set(c.liveTail.state === 'listening' ? 1 : 0);
        liveTail.inc({ event: 'notification' }, c.liveTail.notifications);
        liveTail.inc({ event: 'poll' }, c.liveTail.polls);
        liveTail.inc({ event: 'poll_error' }, c.liveTail.pollErrors);
        liveTail.inc({ event: 'reconnect' }, c.liveTail.disconnects);
      }
    }
    for (const h of s.hospitals) {
      agents.set({ hospital: h.id }, h.connectedAgents);
      for (const f of h.feeds) {
        const labels = { hospital: h.id, feed: f.feed };
        highWater.set(labels, f.highWaterSeq);
        events.set(labels, f.events);
        lastBatch.set(labels, Date.parse(f.lastBatchAt) / 1000);
        if (f.retention) {
          retentionFloor.set(labels, f.retention.floorSeq);
          retentionRemoved.inc(labels, f.retention.removedEvents);
          retentionRemovedBytes.inc(labels, f.retention.removedBytes);
        }
      }
      for (const c of h.inbound?.channels ?? []) {
        inboundWaiting.set({ hospital: h.id, channel: c.channel }, c.waiting);
        inboundOldest.set({ hospital: h.id, channel: c.channel }, c.oldestWaitingSeconds ?? 0);
      }
    }
    for (const v of s.vendors) {
      for (const f of v.feeds) {
        const labels = { vendor: v.vendor, consumer: f.consumer, hospital: f.hospital, feed: f.feed };
        following.set(labels, f.openSubscriptions);
        if (f.committedCursor !== null) committed.set(labels, f.committedCursor);
        if (f.cursorState !== 'not-read') aheadOfHead.set(labels, f.cursorState === 'ahead-of-head' ? 1 : 0);
        if (f.cursor === null) continue;
        cursor.set(labels, f.cursor);
        if (f.unreadEvents !== null) lagEvents.set(labels, f.unreadEvents);
        if (f.lagSeconds !== null) lagSeconds.set(labels, f.lagSeconds);
      }
    }
  }
}
