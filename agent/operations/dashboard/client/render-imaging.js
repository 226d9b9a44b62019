// A card per imaging feed (a feed whose streams carry DICOM instances): the
// words come from imaging-view.js; the panel is hidden while no feed carries
// imaging.
import { figure, h, keyed, setFigure, setText } from './dom.js';
import { t } from './i18n.js';
import { imagingView, isImagingFeed } from './imaging-view.js';

function stat(labelKey, ...value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label', dataset: { label: labelKey } }), h('div', { class: 'stat-value' }, ...value));
}

export function renderImaging(panel, view) {
  const { status, nowMs, reach } = view;
  const feeds = status.feeds.filter(isImagingFeed);
  panel.hidden = feeds.length === 0;
  keyed(
    panel.querySelector('[data-role="list"]'),
    feeds,
    (f) => f.feed,
    (feed) => {
      const n = feed.feed;
      const m = feed.imaging;
      return h('div', { class: 'feed-card imaging-card', dataset: { imaging: n } },
        h('div', { class: 'feed-head' },
          h('span', { class: 'feed-name' }, n),
          h('span', { class: 'badge capture-state', dataset: { role: 'state' } }),
        ),
        h('div', { class: 'capture-detail message-error', dataset: { role: 'problem' } }),
        h('div', { class: 'stats' },
          stat('imaging.studies', figure(`imaging.${n}.studiesWaiting`, m.studiesWaiting, '', { class: 'big' }), h('div', { class: 'sub', dataset: { role: 'instances' } })),
          stat('imaging.bytesWaiting', figure(`imaging.${n}.bytesWaiting`, m.bytesWaiting, '', { class: 'big' })),
          stat('imaging.rate', figure(`imaging.${n}.chunksPerSecond`, m.chunksPerSecond, '', { class: 'big' }), h('div', { class: 'sub', dataset: { role: 'sent' } })),
          stat('imaging.eta', figure(`imaging.${n}.etaSeconds`, m.etaSeconds, '', { class: 'big' })),
          stat('imaging.deduped', figure(`imaging.${n}.dedupedBytes`, m.dedupedBytes, '', { class: 'big' })),
        ),
        h('dl', { class: 'capture-facts' },
          h('dt', { dataset: { label: 'imaging.currentLabel' } }), h('dd', { class: 'mono', dataset: { role: 'current' } }),
        ),
      );
    },
    (card, feed) => {
      const n = feed.feed;
      const m = feed.imaging;
      const linkDown = status.links.some((l) => l.relay === feed.relay && l.state !== 'streaming');
      const v = imagingView(feed, linkDown, nowMs, reach);
      const q = (role) => card.querySelector(`[data-role="${role}"]`);
      const fig = (name) => card.querySelector(`[data-figure="imaging.${n}.${name}"]`);
      card.dataset.level = v.level;
      card.dataset.state = v.state;
      for (const label of card.querySelectorAll('[data-label]')) setText(label, t(label.dataset.label));
      const state = q('state');
      setText(state, v.stateText);
      state.dataset.level = v.level;
      setText(q('problem'), v.problem);
      q('problem').hidden = v.problem === '';
      setFigure(fig('studiesWaiting'), m.studiesWaiting, v.studies);
      setText(q('instances'), v.instances);
      setFigure(fig('bytesWaiting'), m.bytesWaiting, v.bytesWaiting);
      setFigure(fig('chunksPerSecond'), m.chunksPerSecond, v.chunksPerSecond);
      setText(q('sent'), v.chunksSent);
      const eta = fig('etaSeconds');
      setFigure(eta, m.etaSeconds, v.eta);
      eta.classList.toggle('long', v.eta.length > 12);
      setFigure(fig('dedupedBytes'), m.dedupedBytes, v.deduped);
      setText(q('current'), v.current);
    },
  );
}
