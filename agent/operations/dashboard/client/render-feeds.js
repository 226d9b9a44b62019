// Each feed: what is waiting (events, bytes, the oldest's age), how far behind
// the cloud copy is, what the relay has acknowledged, when the backlog will be
// gone, live charts of backlog and throughput, and pause / resume.
import { pauseFeed, resumeFeed } from './admin-actions.js';
import { backlogChart, throughputChart } from './charts.js';
import { figure, h, keyed, setFigure, setText } from './dom.js';
import { bitRate, bytes, count, duration } from './format.js';
import { kindText, reasonText, t, word } from './i18n.js';

/** feed -> { backlog, throughput } chart handles */
const charts = new Map();

/** Drops every chart (the language changed: labels are baked in). */
export function resetFeedCharts() {
  for (const c of charts.values()) {
    c.backlog.destroy();
    c.throughput.destroy();
  }
  charts.clear();
  document.querySelectorAll('#feed-list [data-role="chart-backlog"], #feed-list [data-role="chart-throughput"]').forEach((el) => el.replaceChildren());
}

/** Whether the feed's lag counts against it (the agent's rule: agent/operations/alerts/alert-evaluator.ts feedLagExceeded). */
export function lagExceeded(feed) {
  if (feed.lagThresholdSeconds === null || feed.lagThresholdSeconds === undefined) return false;
  if (feed.paused === true || feed.blocked) return false;
  return feed.lagSeconds > feed.lagThresholdSeconds;
}

function stat(labelRole, ...value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label', dataset: { role: labelRole } }), h('div', { class: 'stat-value' }, ...value));
}

export function renderFeeds(container, view) {
  const { status, history, admin } = view;
  keyed(
    container,
    status.feeds,
    (f) => f.feed,
    (feed) => {
      const name = feed.feed;
      const card = h('div', { class: 'feed-card', dataset: { feed: name } });
      card.append(
        h('div', { class: 'feed-head' },
          h('span', { class: 'feed-name' }, name),
          h('span', { class: 'muted', dataset: { role: 'relay' } }),
          h('span', { class: 'badge', dataset: { role: 'class' } }),
          h('span', { class: 'badge badge-paused', dataset: { role: 'paused' } }),
          h('span', { class: 'badge badge-warn', dataset: { role: 'blocked' } }),
          h('span', { class: 'badge badge-warn', dataset: { role: 'no-policy' } }),
          admin ? h('button', { class: 'action', type: 'button', dataset: { role: 'pause' } }) : null,
        ),
        h('div', { class: 'feed-proof' },
          h('span', { class: 'muted', dataset: { role: 'proof' } }),
          h('span', { class: 'badge badge-warn', dataset: { role: 'proof-incidents' } }),
        ),
        h('div', { class: 'stats' },
          stat('backlog-label',
            figure(`feed.${name}.backlog.events`, feed.backlog.events, '', { class: 'big' }), ' ',
            h('span', { class: 'unit', dataset: { role: 'events-unit' } }),
            h('div', { class: 'sub' }, figure(`feed.${name}.backlog.bytes`, feed.backlog.bytes, '')),
          ),
          stat('oldest-label', figure(`feed.${name}.backlog.oldestAgeSeconds`, feed.backlog.oldestAgeSeconds, '', { class: 'big' })),
          stat('lag-label',
            figure(`feed.${name}.lagSeconds`, feed.lagSeconds, '', { class: 'big' }),
            h('div', { class: 'sub', dataset: { role: 'threshold' } }),
          ),
          stat('acked-label', figure(`feed.${name}.ackedSeq`, feed.ackedSeq, '', { class: 'big' })),
          stat('eta-label', figure(`feed.${name}.etaSeconds`, feed.etaSeconds, '', { class: 'big' })),
          stat('rate-label', figure(`feed.${name}.rateBytesPerSecond`, feed.rateBytesPerSecond, '', { class: 'big' })),
        ),
        h('div', { class: 'charts' },
          h('div', { class: 'chart' }, h('div', { class: 'chart-title', dataset: { role: 'backlog-title' } }), h('div', { dataset: { role: 'chart-backlog' } })),
          h('div', { class: 'chart' }, h('div', { class: 'chart-title', dataset: { role: 'throughput-title' } }), h('div', { dataset: { role: 'chart-throughput' } })),
        ),
      );
      return card;
    },
    (card, feed) => {
      const name = feed.feed;
      const q = (role) => card.querySelector(`[data-role="${role}"]`);
      const f = (path) => card.querySelector(`[data-figure="feed.${name}.${path}"]`);
      const paused = feed.paused === true;
      card.classList.toggle('is-paused', paused);
      card.classList.toggle('is-lagging', lagExceeded(feed));
      card.dataset.paused = String(paused);
      setText(q('relay'), t('feed.relay', { relay: feed.relay }));
      setText(q('class'), feed.class ? t('feed.class', { class: word('class', feed.class) }) : '');
      setText(q('paused'), paused ? t('feed.paused') : '');
      q('paused').hidden = !paused;
      setText(q('blocked'), feed.blocked ? t('feed.blocked', { reason: kindText('blocked', feed.blockedKind, reasonText(feed.blocked)) }) : '');
      q('blocked').hidden = !feed.blocked;
      // Policy version 0 is a pass-through: whatever the streams hold leaves as it is.
      const noPolicy = feed.policyVersion === 0;
      setText(q('no-policy'), noPolicy ? t('feed.noPolicy') : '');
      q('no-policy').title = noPolicy ? t('feed.noPolicy.detail') : '';
      q('no-policy').hidden = !noPolicy;
      // Completeness proofs (absent when off): how far the relay's copy is proved complete, and what it holds otherwise than sent.
      const proofs = feed.proofs;
      const proofLine = !proofs || proofs.state === 'off'
        ? ''
        : proofs.state === 'unavailable'
          ? t('feed.proof.unavailable')
          : proofs.verifiedThroughSeq > 0
            ? t('feed.proof.verified', { seq: count(proofs.verifiedThroughSeq) })
            : t('feed.proof.pending');
      setText(q('proof'), proofLine);
      q('proof').title = proofs?.problem ?? '';
      q('proof').hidden = proofLine === '';
      const incidents = proofs?.incidents ?? 0;
      setText(q('proof-incidents'), incidents > 0 ? t('feed.proof.incidents', { count: count(incidents) }) : '');
      q('proof-incidents').hidden = incidents === 0;
      const button = q('pause');
      if (button) {
        setText(button, paused ? t('feed.resume') : t('feed.pause'));
        button.onclick = () => (paused ? resumeFeed(name) : pauseFeed(name));
      }
      for (const [role, key] of [['backlog-label', 'feed.backlog'], ['oldest-label', 'feed.oldest'], ['lag-label', 'feed.lag'], ['acked-label', 'feed.acked'], ['eta-label', 'feed.eta'], ['rate-label', 'feed.rate'], ['backlog-title', 'chart.backlogTitle'], ['throughput-title', 'chart.throughputTitle']]) {
        setText(q(role), t(key));
      }
      setText(q('events-unit'), t('feed.events'));
      setFigure(f('backlog.events'), feed.backlog.events, count(feed.backlog.events));
      setFigure(f('backlog.bytes'), feed.backlog.bytes, bytes(feed.backlog.bytes));
      setFigure(f('backlog.oldestAgeSeconds'), feed.backlog.oldestAgeSeconds, feed.backlog.oldestAgeSeconds === null ? '—' : duration(feed.backlog.oldestAgeSeconds));
      setFigure(f('lagSeconds'), feed.lagSeconds, duration(feed.lagSeconds));
      setText(q('threshold'), feed.lagThresholdSeconds ? t('feed.threshold', { value: duration(feed.lagThresholdSeconds) }) : '');
      setFigure(f('ackedSeq'), feed.ackedSeq, count(feed.ackedSeq));
      // The achieved rate decays for a few seconds after a cut: no drain time while nothing can drain.
      const linkDown = status.links.some((l) => l.relay === feed.relay && l.state !== 'streaming');
      const eta =
        feed.etaSeconds === 0 ? t('feed.eta.caughtUp') : linkDown ? t('feed.eta.linkDown') : feed.etaSeconds === null ? t('feed.eta.unknown') : duration(feed.etaSeconds);
      setFigure(f('etaSeconds'), feed.etaSeconds, eta);
      // A sentence instead of a figure is set smaller, so it does not wrap in the tile.
      f('etaSeconds').classList.toggle('long', eta.length > 12);
      setFigure(f('rateBytesPerSecond'), feed.rateBytesPerSecond, bitRate(feed.rateBytesPerSecond));

      let c = charts.get(name);
      if (!c) {
        c = { backlog: backlogChart(q('chart-backlog'), history.backlogColumns(name)), throughput: throughputChart(q('chart-throughput'), history.throughputColumns(name)) };
        charts.set(name, c);
      }
      c.backlog.update(history.backlogColumns(name));
      c.throughput.update(history.throughputColumns(name));
    },
  );
  for (const name of [...charts.keys()]) {
    if (!status.feeds.some((f) => f.feed === name)) {
      charts.get(name).backlog.destroy();
      charts.get(name).throughput.destroy();
      charts.delete(name);
    }
  }
}
