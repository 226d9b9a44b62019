// The relay's status page (GET / on the relay's HTTP port): per hospital the
// agents connected, the last batch, high-water marks and feed sizes; per vendor
// key and consumer its cursors and lag behind each feed's head (a cursor past
// the head shown as an error); per feed its retention (limits, floor, oldest
// event held, last sweep); per hospital its inbound
// channels (waiting, on the wire, receipts) and an agent's protocol problem.
// Server-rendered HTML that
// reloads itself, so it needs no script and works in any browser the cloud
// operator has; the same figures are JSON at /v1/status.
import type { FeedRetentionStatus, RelayStatus } from './relay-status.js';
import { UNNAMED_CONSUMER_LABEL, type VendorFeedStatus } from './vendor-status.js';

/** The page reloads itself this often, in seconds. */
export const STATUS_PAGE_REFRESH_SECONDS = 5;

const CSS = `
:root{--bg:#0d1117;--panel:#161b22;--line:#30363d;--text:#e6edf3;--muted:#8b949e;--ok:#3fb950;--warn:#d29922;--bad:#f85149;font-size:clamp(14px,0.4vw + 9px,22px)}
body{margin:0;background:var(--bg);color:var(--text);font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif}
header{padding:.8rem 1.5rem;border-bottom:1px solid var(--line);display:flex;gap:1.5rem;align-items:baseline;flex-wrap:wrap}
header h1{margin:0;font-size:1.3rem;color:#58a6ff}
main{padding:1rem 1.5rem;display:grid;gap:1rem}
section{background:var(--panel);border:1px solid var(--line);border-radius:.7rem;padding:.8rem 1rem}
h2{margin:0 0 .5rem;font-size:1.1rem}
h3{margin:.8rem 0 .3rem;font-size:.85rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th{text-align:left;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);border-bottom:1px solid var(--line);padding:.3rem .4rem}
td{padding:.35rem .4rem;border-bottom:1px solid #21262d}
td.num{text-align:right}
.muted{color:var(--muted)}
.ok{color:var(--ok);font-weight:700}.warn{color:var(--warn);font-weight:700}.bad{color:var(--bad);font-weight:700}
footer{padding:0 1.5rem 1.5rem;color:var(--muted);font-size:.85rem}
a{color:#58a6ff}
`;

/** What the page says first while the database cannot be read: nothing below it that comes from the database is shown as if it were known. */
function unavailableBanner(status: RelayStatus): string {
  const down = status.storeUnavailable;
  if (!down) return '';
  return `<section data-store="unreachable"><h2 class="bad">The relay's database is unreachable</h2>
<p>since <span data-figure="store-unreachable-since">${esc(down.since)}</span>: ${esc(down.error)}. Nothing is acknowledged while it is down: agents keep their backlog and resend, vendors retry. Feeds, cursors, sinks and other processes are not shown until it answers again.</p></section>`;
}

export function renderRelayStatusPage(status: RelayStatus, nowMs: number = Date.now()): string {
  const hospitals = status.hospitals.map((h) => {
    const agents = status.connectedAgents.filter((a) => a.hospital === h.id);
    const lastBatch = latest(agents.map((a) => a.lastBatchAt).concat(h.feeds.map((f) => f.lastBatchAt)));
    return `<section data-hospital="${esc(h.id)}">
<h2>${esc(h.name ?? h.id)} <span class="muted">${esc(h.id)}${h.configured ? '' : ' · no longer configured'}</span></h2>
<p><span class="${agents.length > 0 ? 'ok' : 'bad'}" data-figure="agents">${agents.length} agent${agents.length === 1 ? '' : 's'} connected</span>
 · last batch <span data-figure="last-batch">${lastBatch ? `${esc(lastBatch)} (${ago(lastBatch, nowMs)})` : 'never'}</span>${streamHolder(status, h.id)}</p>
${agents.length === 0 ? '' : table(['agent', 'version', 'protocol', 'peer', 'authenticated by', 'connected', 'last batch', 'batches', 'events'], agents.map((a) => [esc(a.agentId), esc(a.agentVersion), `<span class="${a.problem ? 'warn' : ''}" data-figure="protocol">${a.protocolVersion}</span>`, esc(a.peer), esc(a.authenticatedBy ?? ''), `${esc(a.connectedAt)} (${ago(a.connectedAt, nowMs)})`, a.lastBatchAt ? ago(a.lastBatchAt, nowMs) : 'none', num(a.batches), num(a.events)]), [7, 8])}
${inboundSection(h, nowMs)}
<h3>Feeds</h3>
${status.storeUnavailable ? '<p class="bad">Not known while the database is unreachable.</p>' : h.feeds.length === 0 ? '<p class="muted">Nothing stored yet.</p>' : table(['feed', 'high-water seq', 'events stored', 'last batch', 'retention', 'floor', 'oldest held', 'last sweep'], h.feeds.map((f) => [`<span data-feed="${esc(f.feed)}">${esc(f.feed)}</span>`, `<span data-figure="high-water">${num(f.highWaterSeq)}</span>`, `<span data-figure="events">${num(f.events)}</span>`, `${esc(f.lastBatchAt)} (${ago(f.lastBatchAt, nowMs)})`, ...retentionCells(f.retention, nowMs)]), [1, 2, 5, 6])}
${(h.revokedFeeds ?? []).length === 0 ? '' : `<h3>Revoked</h3>${table(['feed', 'revoked', 'events deleted', 'reason'], h.revokedFeeds.map((r) => [esc(r.feed), esc(r.revokedAt), num(r.eventsDeleted), esc(r.reason)]), [2])}`}
</section>`;
  });
  const vendors = status.vendors.map(
    (v) => `<section data-vendor="${esc(v.vendor)}"><h2>Vendor ${esc(v.vendor)}</h2>
${v.feeds.length === 0 ? '<p class="muted">No grants.</p>' : table(
  ['consumer', 'hospital', 'feed', 'committed', 'last read cursor', 'head', 'behind (events)', 'lag', 'last read', 'api', 'live'],
  v.feeds.map((f) => [
    f.consumer === '' ? `<span class="muted" data-consumer="">${UNNAMED_CONSUMER_LABEL}</span>` : `<span data-consumer="${esc(f.consumer)}">${esc(f.consumer)}</span>`,
    esc(f.hospital),
    esc(f.feed),
    f.committedCursor === null ? '—' : `<span data-figure="committed">${num(f.committedCursor)}</span>`,
    f.cursor === null ? '<span class="muted">not read yet</span>' : `<span data-figure="cursor">${num(f.cursor)}</span>`,
    num(f.highWaterSeq),
    behind(f),
    f.lagSeconds === null ? '—' : duration(f.lagSeconds),
    f.lastReadAt ? ago(f.lastReadAt, nowMs) : '—',
    esc(f.api ?? '—'),
    f.openSubscriptions > 0 ? `<span class="ok">${f.openSubscriptions} following</span>` : '',
  ]),
  [3, 4, 5, 6],
)}</section>`,
  );
  const sinks = sinksSection(status.sinks ?? [], nowMs);
  const cluster = status.cluster ? clusterSection(status.cluster, nowMs) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="${STATUS_PAGE_REFRESH_SECONDS}"><meta name="color-scheme" content="dark"><link rel="icon" href="data:,">
<title>Wardline relay ${esc(status.relayId)}</title><style>${CSS}</style></head><body>
<header><h1>Wardline relay</h1><span>${esc(status.relayId)}</span><span class="muted">v${esc(status.version)} · protocol ${status.protocolVersion} · up ${duration(status.uptimeSeconds)} · ${status.connectedAgents.length} agent(s) connected</span></header>
<main>
${unavailableBanner(status)}
${hospitals.join('\n') || '<section><p class="muted">No hospitals configured.</p></section>'}
${vendors.join('\n')}
${sinks}
${cluster}
</main>
<footer>Reloads every ${STATUS_PAGE_REFRESH_SECONDS} s · <a href="/v1/status">/v1/status</a> · <a href="/metrics">/metrics</a></footer>
</body></html>`;
}

/** A consumer's distance behind the head; a cursor past the head is an error, never "0 behind". */
function behind(f: VendorFeedStatus): string {
  if (f.cursorState === 'ahead-of-head') {
    const ahead = Math.max(f.cursor ?? 0, f.committedCursor ?? 0);
    return `<span class="bad" data-figure="cursor-state">ahead of head (${num(ahead)} &gt; ${num(f.highWaterSeq)})</span>`;
  }
  if (f.unreadEvents === null) return '—';
  return `<span class="${f.unreadEvents === 0 ? 'ok' : 'warn'}" data-figure="unread">${f.unreadCapped ? '≥ ' : ''}${num(f.unreadEvents)}</span>`;
}

/** Per sink and feed: its state, how far it has published, its lag and its errors. */
function sinksSection(sinks: RelayStatus['sinks'], nowMs: number): string {
  if (sinks.length === 0) return '';
  const bad = new Set(['backoff', 'halted']);
  return `<section data-sinks><h2>Sinks</h2>
${table(
  ['sink', 'hospital', 'feed', 'subject', 'state', 'published seq', 'behind (events)', 'lag', 'published', 'errors', 'last error'],
  sinks.map((s) => [
    `<span data-sink="${esc(s.sink)}">${esc(s.sink)}</span>${s.connected ? '' : ' <span class="bad">NATS down</span>'}`,
    esc(s.hospital),
    esc(s.feed),
    esc(s.subject),
    `<span class="${bad.has(s.state) ? 'bad' : s.state === 'caught-up' ? 'ok' : 'warn'}" data-figure="sink-state">${esc(s.state)}</span>`,
    s.publishedSeq === null ? '—' : `<span data-figure="sink-published">${num(s.publishedSeq)}</span>`,
    `<span class="${s.lagEvents === 0 ? 'ok' : 'warn'}" data-figure="sink-lag">${s.lagCapped ? '≥ ' : ''}${num(s.lagEvents)}</span>`,
    duration(s.lagSeconds),
    num(s.published),
    num(s.publishErrors),
    s.lastError ? `${esc(s.lastError.code)} ${esc(s.lastError.message)} (${ago(s.lastError.at, nowMs)})` : '—',
  ]),
  [5, 6, 8, 9],
)}</section>`;
}

/** The hospital's inbound channels: what waits for its agent, what is on the wire, the receipts; its problem first. */
function inboundSection(h: RelayStatus['hospitals'][number], nowMs: number): string {
  if (!h.inbound) return '';
  const problem = h.inbound.problem ? `<p class="warn" data-figure="inbound-problem">${esc(h.inbound.problem)}</p>` : '';
  if (h.inbound.channels.length === 0) return `<h3>Inbound</h3>${problem}<p class="muted">No inbound channel declared by the hospital's agent.</p>`;
  return `<h3>Inbound</h3>${problem}${table(
    ['channel', 'waiting', 'oldest waiting', 'on the wire', 'accepted', 'refused', 'expired', 'quarantined'],
    h.inbound.channels.map((c) => [
      `<span data-channel="${esc(c.channel)}">${esc(c.channel)}</span>`,
      `<span class="${c.waiting === 0 ? 'ok' : 'warn'}" data-figure="inbound-waiting">${num(c.waiting)}</span>`,
      c.oldestWaitingAt ? `${esc(c.oldestWaitingAt)} (${ago(c.oldestWaitingAt, nowMs)})` : '—',
      `<span data-figure="inbound-on-the-wire">${num(c.sentUnacked)}</span>`,
      num(c.receipts.accepted),
      num(c.receipts.refused),
      num(c.receipts.expired),
      `<span class="${c.receipts.quarantined > 0 ? 'warn' : ''}">${num(c.receipts.quarantined)}</span>`,
    ]),
    [1, 3, 4, 5, 6, 7],
  )}<p class="muted">Receipts counted since the relay started.</p>`;
}

/** A table of cells already escaped; the columns in `numeric` are right-aligned. */
/** Which process holds the hospital's stream, when several share the store (the agent may be on another than this page's). */
function streamHolder(status: RelayStatus, hospital: string): string {
  if (status.cluster?.store.kind !== 'postgres') return '';
  const holder = status.cluster.streams.find((s) => s.hospital === hospital);
  return holder ? ` · stream held by <span data-figure="stream-holder">${esc(holder.processId)}</span>` : '';
}

function clusterSection(cluster: NonNullable<RelayStatus['cluster']>, nowMs: number): string {
  const store = cluster.store;
  const where = store.kind === 'sqlite' ? 'relay.db (SQLite, one process)' : `PostgreSQL ${esc(store.database ?? '')}`;
  const reach = store.reachable ? '<span class="ok" data-figure="store">reachable</span>' : `<span class="bad" data-figure="store">unreachable since ${esc(store.unreachableSince ?? '')}: ${esc(store.error ?? '')}</span>`;
  const tail = cluster.liveTail ? ` · live tail <span data-figure="live-tail" class="${cluster.liveTail.state === 'listening' ? 'ok' : 'warn'}">${esc(cluster.liveTail.state)}</span> (${num(cluster.liveTail.notifications)} doorbells, ${num(cluster.liveTail.polls)} polls, ${num(cluster.liveTail.disconnects)} reconnects)` : '';
  const holders = (id: string) => cluster.streams.filter((s) => s.processId === id).map((s) => esc(s.hospital)).join(', ');
  return `<section data-section="processes"><h2>Relay processes</h2>
<p>Store: ${where} · ${reach}${tail}</p>
${table(
  ['process', 'host', 'pid', 'version', 'gRPC', 'HTTP', 'started', 'last heartbeat', 'state', 'holds streams of'],
  cluster.processes.map((p) => [
    `${esc(p.processId)}${p.processId === cluster.thisProcess ? ' <span class="muted">(this page)</span>' : ''}`,
    esc(p.host),
    String(p.pid),
    esc(p.version),
    esc(p.grpcListen),
    esc(p.httpListen),
    `${esc(p.startedAt)} (${ago(p.startedAt, nowMs)})`,
    ago(p.lastHeartbeatAt, nowMs),
    p.alive ? '<span class="ok" data-figure="process-state">alive</span>' : '<span class="bad" data-figure="process-state">gone</span>',
    holders(p.processId),
  ]),
  [2],
)}</section>`;
}

/** A feed's retention: its limits, its floor (a cursor below it is refused), the oldest event held and this process's last sweep. */
function retentionCells(r: FeedRetentionStatus | undefined, nowMs: number): string[] {
  if (!r) return ['', '', '', ''];
  const limits = [r.maxAgeMs === null ? '' : `older than ${duration(r.maxAgeMs / 1000)} removed`, r.maxBytes === null ? '' : `at most ${num(r.maxBytes)} bytes`].filter(Boolean).join(', ');
  return [
    `<span data-figure="retention">${esc(limits || 'kept forever')}</span>${r.lastError ? ` <span class="bad">${esc(r.lastError)}</span>` : ''}`,
    `<span data-figure="retention-floor">${num(r.floorSeq)}</span>`,
    `<span data-figure="oldest-seq">${r.oldestSeq === null ? 'none' : num(r.oldestSeq)}</span>`,
    r.lastSweepAt ? `<span data-figure="last-sweep">${esc(r.lastSweepAt)} (${ago(r.lastSweepAt, nowMs)})</span>${r.removedEvents > 0 ? ` · ${num(r.removedEvents)} removed` : ''}` : 'never',
  ];
}

function table(head: string[], rows: string[][], numeric: number[] = []): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function latest(times: (string | null)[]): string | null {
  return times.filter((t): t is string => t !== null).sort().pop() ?? null;
}

function ago(iso: string, nowMs: number): string {
  return `${duration(Math.max(0, (nowMs - Date.parse(iso)) / 1000))} ago`;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

function num(n: number): string {
  return n.toLocaleString('en-US');
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
