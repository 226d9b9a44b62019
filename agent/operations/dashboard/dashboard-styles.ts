// The dashboard's stylesheet. Dark, high-contrast and sized from the viewport,
// so the same page reads across a machine room from a wall screen and up close
// on a laptop; colour is never the only signal (every state is also a word).
export const DASHBOARD_CSS = `
:root{--bg:#0d1117;--panel:#161b22;--line:#30363d;--text:#e6edf3;--muted:#8b949e;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--info:#58a6ff;--paused:#a371f7;
  font-size:clamp(14px,0.45vw + 9px,26px)}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;line-height:1.35}
body.stale main{opacity:.55;filter:grayscale(.6)}
button{font:inherit;color:var(--text);background:#21262d;border:1px solid var(--line);border-radius:.4rem;padding:.3rem .8rem;cursor:pointer}
button:hover{background:#30363d}
button.action{margin-left:auto}
a{color:var(--info)}
.muted{color:var(--muted)}
.small,.sub{font-size:.85rem}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.top{display:grid;grid-template-columns:auto 1fr auto;gap:1.5rem;align-items:center;padding:.8rem 1.5rem;border-bottom:1px solid var(--line);background:#010409;position:sticky;top:0;z-index:5}
.brand{display:flex;gap:1rem;align-items:center}
.logo{font-weight:800;letter-spacing:.04em;font-size:1.3rem;color:var(--info)}
.hospital{font-size:1.2rem;font-weight:600}
.verdict{border-radius:.6rem;padding:.5rem 1rem;border:2px solid var(--line);min-height:3.2rem}
.verdict-title{font-size:1.45rem;font-weight:700}
.verdict-detail{color:var(--muted)}
.verdict[data-verdict=ok]{border-color:var(--ok)}.verdict[data-verdict=ok] .verdict-title{color:var(--ok)}
.verdict[data-verdict=warn]{border-color:var(--warn);background:rgba(210,153,34,.08)}.verdict[data-verdict=warn] .verdict-title{color:var(--warn)}
.verdict[data-verdict=bad]{border-color:var(--bad);background:rgba(248,81,73,.12)}.verdict[data-verdict=bad] .verdict-title{color:var(--bad)}
.tools{display:flex;gap:.8rem;align-items:center}
.tools form{margin:0}
#live{display:inline-flex;gap:.4rem;align-items:center;color:var(--muted)}
#live .dot{width:.7rem;height:.7rem;border-radius:50%;background:var(--warn)}
#live[data-live=live] .dot{background:var(--ok)}#live[data-live=reconnecting] .dot{background:var(--bad)}
.banner{margin:.8rem 1.5rem 0;padding:.6rem 1rem;border:1px solid var(--warn);border-radius:.5rem;background:rgba(210,153,34,.12);color:#f2cc60;font-weight:600}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,32rem),1fr));gap:1rem;padding:1rem 1.5rem}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:.7rem;padding:.8rem 1rem;min-width:0}
.span-all{grid-column:1/-1}
.panel h2{margin:0 0 .6rem;font-size:1rem;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);display:flex;gap:.6rem;align-items:center}
.panel h2 .hostname{text-transform:none;letter-spacing:0}
.pill{display:inline-block;padding:.15rem .8rem;border-radius:1rem;font-weight:800;letter-spacing:.05em}
.pill-ok{background:var(--ok);color:#04260f}.pill-bad{background:var(--bad);color:#2d0503;animation:pulse 1.6s ease-in-out infinite}
@keyframes pulse{50%{opacity:.65}}
@media (prefers-reduced-motion:reduce){.pill-bad{animation:none}}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:.3rem;border:1px solid var(--line);font-size:.8rem;color:var(--muted)}
.badge:empty{display:none}
/* An element the client hides stays hidden whatever display its class gives it: a badge hidden with text left in it must not show. */
[hidden]{display:none!important}
.badge-paused{border-color:var(--paused);color:var(--paused);font-weight:700}
.badge-warn{border-color:var(--warn);color:var(--warn)}
.badge-bad{border-color:var(--bad);color:var(--bad)}
.link-card+.link-card{margin-top:1rem;padding-top:1rem;border-top:1px solid var(--line)}
.link-head{display:flex;gap:.8rem;align-items:baseline;flex-wrap:wrap}
.link-head .pill{font-size:1.3rem}
.link-name{font-size:1.3rem;font-weight:700}
.link-state{font-size:1.1rem}
.link-facts{display:flex;gap:1.5rem;flex-wrap:wrap;margin:.4rem 0;color:var(--muted)}
.link-facts .error-text{color:var(--text)}
.link-card[data-online=false] .error-text{color:#ffa198}
.link-card[data-online=true] .error-text{color:var(--muted)}
.timeline-hour{margin-top:.2rem}
.label{color:var(--muted)}
.timeline{margin-top:.4rem}
.timeline-legend{font-size:.85rem;color:var(--muted);margin-bottom:.2rem}
.timeline-bar{position:relative;height:1.6rem;background:repeating-linear-gradient(45deg,#161b22 0 6px,#1c2129 6px 12px);border-radius:.3rem;overflow:hidden;border:1px solid var(--line)}
.timeline-bar .seg{position:absolute;top:0;bottom:0}
.state-streaming{background:var(--ok)}.state-connecting{background:var(--warn)}.state-backoff{background:var(--bad)}.state-offline{background:#b62324}
.state-paused{background:var(--paused)}.state-closed{background:#484f58}.state-unknown{background:transparent}
.timeline-ticks{position:relative;height:1.1rem;font-size:.75rem;color:var(--muted)}
.timeline-ticks span{position:absolute;transform:translateX(-50%)}
.feed-card{border:1px solid var(--line);border-radius:.6rem;padding:.7rem .9rem;background:#0d1117}
.feed-card+.feed-card{margin-top:1rem}
.feed-card.is-lagging{border-color:var(--warn)}
.feed-card.is-paused{border-color:var(--paused)}
.feed-head{display:flex;gap:.7rem;align-items:baseline;flex-wrap:wrap;margin-bottom:.5rem}
.feed-proof{display:flex;gap:.7rem;align-items:baseline;flex-wrap:wrap;margin:-.3rem 0 .5rem;font-size:.9em}
.feed-name{font-size:1.3rem;font-weight:700}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem 1rem}
.stat-label{font-size:.8rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.big{font-size:1.7rem;font-weight:700;font-variant-numeric:tabular-nums}
.big.long{font-size:1.1rem}
.unit{color:var(--muted)}
.is-lagging [data-figure$=".lagSeconds"]{color:var(--warn)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,26rem),1fr));gap:1rem;margin-top:.6rem}
.chart{min-width:0}
.chart-title{font-size:.85rem;color:var(--muted)}
.table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
.table th{text-align:left;font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);border-bottom:1px solid var(--line);padding:.3rem .4rem}
.table td{padding:.4rem;border-bottom:1px solid #21262d;vertical-align:top}
.table td.num{text-align:right}
.source-name{font-weight:700}
tr.is-silent{background:rgba(248,81,73,.14)}
tr.is-silent [data-role=silent]{color:var(--bad);font-weight:800}
tr.is-quiet [data-role=last]{color:var(--warn)}
.rejection{color:#ffa198;max-width:20rem}
.host-grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:1rem;margin-bottom:.6rem}
.host-box[data-state=warning] .big{color:var(--warn)}.host-box[data-state=critical] .big{color:var(--bad)}
.disk-ok{border-color:var(--ok);color:var(--ok)}.disk-warning{border-color:var(--warn);color:var(--warn)}.disk-critical{border-color:var(--bad);color:var(--bad)}
.meter{height:.5rem;background:#21262d;border-radius:.25rem;overflow:hidden;margin:.2rem 0}
.meter-fill{height:100%;background:var(--info)}
.host-box[data-state=warning] .meter-fill{background:var(--warn)}.host-box[data-state=critical] .meter-fill{background:var(--bad)}
.warn-text{color:var(--warn)}
.kv{display:flex;gap:.8rem;justify-content:space-between;padding:.2rem 0;border-bottom:1px solid #21262d}
.schedule{margin-top:.6rem;width:100%;border-collapse:collapse}
.schedule caption{text-align:left;color:var(--muted);font-size:.85rem;padding:.3rem 0}
.schedule td,.schedule th{padding:.25rem .4rem;text-align:left;border-bottom:1px solid #21262d;font-size:.9rem}
.schedule tr.in-force{background:rgba(88,166,255,.12)}
.alert-list{list-style:none;margin:0;padding:0;max-height:28rem;overflow:auto}
.alert{display:grid;grid-template-columns:auto auto 1fr;gap:.6rem;padding:.35rem .2rem;border-bottom:1px solid #21262d;align-items:baseline}
.alert-time{color:var(--muted);font-variant-numeric:tabular-nums}
.alert.is-active{background:rgba(248,81,73,.1)}
.sev-critical.sev-badge{border-color:var(--bad);color:var(--bad)}.sev-warning.sev-badge{border-color:var(--warn);color:var(--warn)}.sev-info.sev-badge{border-color:var(--ok);color:var(--ok)}
footer{padding:.5rem 1.5rem 1.5rem;color:var(--muted);font-size:.85rem}
#toasts{position:fixed;bottom:1rem;right:1rem;display:flex;flex-direction:column;gap:.5rem;z-index:10}
.toast{padding:.6rem 1rem;border-radius:.5rem;background:#21262d;border:1px solid var(--line)}
.toast-ok{border-color:var(--ok)}.toast-error{border-color:var(--bad)}
.u-legend{font-size:.8rem;color:var(--muted)}
.u-legend .u-marker{border-radius:.2rem}
@media (max-width:60rem){.top{grid-template-columns:1fr;gap:.6rem}.tools{justify-content:flex-start}}
.message-search{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin-bottom:.8rem}
.message-search input{background:var(--bg);color:var(--text);border:1px solid var(--line);border-radius:.4rem;padding:.35rem .5rem}
.trail{border:1px solid var(--line);border-radius:.6rem;padding:.6rem .8rem;margin-bottom:.8rem}
.trail-answer{font-weight:600;font-size:1.05rem;margin-bottom:.5rem}
.trail-facts{display:flex;flex-wrap:wrap;gap:.3rem 1.4rem;margin:0 0 .5rem}.trail-facts dt{font-size:.75rem;color:var(--muted);text-transform:uppercase}.trail-facts dd{margin:0}
.vendor-reads{margin:0;padding-left:1rem}.vendor-reads [data-state=read]{color:var(--ok)}.vendor-reads [data-state=unread]{color:var(--warn)}
.raw{white-space:pre-wrap;word-break:break-all;background:var(--bg);padding:.5rem;border-radius:.4rem;max-height:20rem;overflow:auto}
.message-error{color:var(--bad)}
.capture-card[data-level=ok]{border-color:var(--ok)}.capture-card[data-level=warn]{border-color:var(--warn)}.capture-card[data-level=bad]{border-color:var(--bad)}.capture-card[data-level=busy]{border-color:var(--info)}.capture-card[data-level=unknown]{border-style:dashed}
.capture-state[data-level=ok]{border-color:var(--ok);color:var(--ok)}.capture-state[data-level=warn]{border-color:var(--warn);color:var(--warn);font-weight:700}.capture-state[data-level=bad]{border-color:var(--bad);color:var(--bad);font-weight:700}.capture-state[data-level=busy]{border-color:var(--info);color:var(--info)}.capture-state[data-level=unknown]{color:var(--muted)}
.capture-card[data-level=unknown] .figure{color:var(--muted)}
.capture-detail{margin:.1rem 0 .4rem;overflow-wrap:anywhere}.capture-card[data-level=bad] .capture-detail{color:var(--bad)}.capture-card[data-level=warn] .capture-detail{color:var(--warn)}
[data-figure$=".retained.bytes"][data-level=warn]{color:var(--warn)}
.capture-facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.6rem 0 0;font-size:.9rem}.capture-facts dt{color:var(--muted)}.capture-facts dd{margin:0;overflow-wrap:anywhere}
/* A phone: the ledger's table scrolls inside its panel, never the page; long words wrap. */
.table-scroll{overflow-x:auto;max-width:100%}
@media (max-width:40rem){.table td,.table th{overflow-wrap:anywhere;padding:.3rem .25rem}.table td.mono,.table th:last-child{display:none}}
`;
