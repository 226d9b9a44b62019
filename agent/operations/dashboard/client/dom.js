// A few DOM helpers, so the renderers build elements without innerHTML (every
// text from the agent goes in as text, never as markup).

/** h('div', { class: 'x', dataset: { figure: 'a' } }, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'onclick') el.addEventListener('click', value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Sets text only when it changed (so selections and screen readers are not disturbed every second). */
export function setText(el, text) {
  const value = String(text);
  if (el.textContent !== value) el.textContent = value;
}

/**
 * A figure the tests compare with /v1/status and /metrics: the shown text, and
 * the raw value in data-value.
 */
export function figure(name, value, text, attrs = {}) {
  return h('span', { ...attrs, class: `figure ${attrs.class ?? ''}`.trim(), dataset: { figure: name, value: value === null || value === undefined ? '' : String(value) } }, text);
}

/** Updates a figure made by figure(). */
export function setFigure(el, value, text) {
  const raw = value === null || value === undefined ? '' : String(value);
  if (el.dataset.value !== raw) el.dataset.value = raw;
  setText(el, text);
}

/**
 * Keeps one child per item, in order, keyed by `key(item)`: creates with
 * `create(item)`, updates with `update(el, item)`, removes the rest. Children
 * that stay keep their state (charts, focus).
 */
export function keyed(container, items, key, create, update) {
  const existing = new Map();
  for (const child of [...container.children]) if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
  let previous = null;
  for (const item of items) {
    const k = String(key(item));
    let el = existing.get(k);
    if (el) existing.delete(k);
    else {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    const next = previous ? previous.nextElementSibling : container.firstElementChild;
    if (next !== el) container.insertBefore(el, next);
    previous = el;
  }
  for (const el of existing.values()) el.remove();
}
