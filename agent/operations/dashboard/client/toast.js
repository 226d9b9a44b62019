// A short message at the bottom of the page (an action's outcome), gone after a few seconds.
import { h } from './dom.js';

const SHOW_MS = 6_000;

export function toast(text, kind = 'ok') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: `toast toast-${kind}`, role: 'status' }, text);
  box.append(el);
  setTimeout(() => el.remove(), SHOW_MS);
}
