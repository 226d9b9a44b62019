// A first, self-contained status page (no CDN: the hospital LAN may be cut off).
// It polls /v1/status; the full live dashboard replaces it.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Wardline agent</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:2rem;background:#f6f7f9;color:#1c2430}
h1{font-size:1.4rem}table{border-collapse:collapse;background:#fff;margin:1rem 0;min-width:40rem}
td,th{border:1px solid #d5d9e0;padding:.35rem .6rem;text-align:left}th{background:#eef1f5}
.streaming{color:#17803d;font-weight:600}.backoff,.offline,.connecting{color:#b42318;font-weight:600}
</style></head><body>
<h1>Wardline agent <span id="hospital"></span></h1>
<div id="links"></div><div id="feeds"></div><div id="sources"></div>
<p><small>Updated <span id="updated">never</span>. JSON: <a href="/v1/status">/v1/status</a> · <a href="/metrics">/metrics</a></small></p>
<script>
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'})[c]);
function table(title, head, rows) {
  return '<h2>' + title + '</h2><table><tr>' + head.map((h) => '<th>' + h + '</th>').join('') + '</tr>' +
    rows.map((r) => '<tr>' + r.map((c) => '<td>' + c + '</td>').join('') + '</tr>').join('') + '</table>';
}
async function refresh() {
  try {
    const s = await (await fetch('/v1/status')).json();
    document.getElementById('hospital').textContent = '— ' + s.hospital.id + ' ' + (s.hospital.name || '');
    document.getElementById('links').innerHTML = table('Links', ['relay', 'state', 'since', 'last error'],
      s.links.map((l) => ['<b>' + esc(l.relay) + '</b>', '<span class="' + esc(l.state) + '">' + esc(l.state) + '</span>',
        esc(new Date(l.sinceMs).toLocaleString()), esc(l.lastError)]));
    document.getElementById('feeds').innerHTML = table('Feeds', ['feed', 'relay', 'acked seq', 'backlog events', 'backlog bytes', 'lag (s)'],
      s.feeds.map((f) => [esc(f.feed), esc(f.relay), f.ackedSeq, f.backlog.events, f.backlog.bytes, f.lagSeconds ?? 0]));
    document.getElementById('sources').innerHTML = table('Sources', ['source', 'state', 'received', 'acknowledged', 'rejected', 'last message'],
      s.sources.map((x) => [esc(x.name), esc(x.state), x.received, x.acknowledged, x.rejected,
        x.lastMessageAtMs ? esc(new Date(x.lastMessageAtMs).toLocaleString()) : '—']));
    document.getElementById('updated').textContent = new Date().toLocaleTimeString();
  } catch (e) { document.getElementById('updated').textContent = 'failed: ' + e.message; }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>`;
