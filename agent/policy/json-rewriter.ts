// Rewrites a JSON row as a stream's policy says.
//
// Failure modes handled:
//  1. A row no rule changes is returned as the very same text (not re-serialised),
//     so a pass-through stream stays byte for byte what the local app sent.
//  2. Numbers and booleans under hash, encrypt, mask or generalize become strings
//     (a pseudonym is not a number); null stays null under every action but drop.
//  3. A dropped member is removed; a dropped array element is removed too (the
//     array gets shorter): positions are not data worth a placeholder.
//  4. A body that is not JSON: SyntaxError from JSON.parse; the caller decides
//     (feed-policy.ts sends nothing of it).
import type { ClearValueObserver } from './hl7-rewriter.js';
import { formatJsonLocation, type JsonLocation, type JsonRuleSet } from './json-policy-rules.js';
import { transformText, type ActionKeys, type FieldAction } from './policy-action.js';

const DROPPED = Symbol('dropped');

/**
 * The row rewritten by `rules`; the same string when nothing changed.
 * @throws SyntaxError when the text is not JSON.
 */
export function rewriteJson(text: string, rules: JsonRuleSet, keys: ActionKeys, observe?: ClearValueObserver): string {
  const root = JSON.parse(text) as unknown;
  const state = { changed: false };
  const out = visit(root, [], { rules, keys, observe, state });
  if (!state.changed) return text;
  if (out === DROPPED) return Array.isArray(root) ? '[]' : root !== null && typeof root === 'object' ? '{}' : 'null';
  return JSON.stringify(out);
}

interface Walk {
  rules: JsonRuleSet;
  keys: ActionKeys;
  observe: ClearValueObserver | undefined;
  state: { changed: boolean };
}

function visit(node: unknown, location: JsonLocation, walk: Walk): unknown {
  const action = walk.rules.actionAt(location);
  if (node !== null && typeof node === 'object' && walk.rules.reachesBelow(location)) {
    let out: unknown[] | Record<string, unknown>;
    let kept = 0;
    if (Array.isArray(node)) {
      const list: unknown[] = [];
      node.forEach((child, i) => {
        const value = visit(child, [...location, i], walk);
        if (value !== DROPPED) list.push(value);
      });
      kept = list.length;
      out = list;
    } else {
      const members: Record<string, unknown> = {};
      for (const [name, child] of Object.entries(node)) {
        const value = visit(child, [...location, name], walk);
        if (value !== DROPPED) members[name] = value;
      }
      kept = Object.keys(members).length;
      out = members;
    }
    // A dropped container that a deeper rule walked into goes entirely when nothing in it was kept.
    return action === 'drop' && kept === 0 ? DROPPED : out;
  }
  return applyWhole(node, action, location, walk);
}

/** One action over a value and everything below it (no deeper rule applies). */
function applyWhole(node: unknown, action: FieldAction, location: JsonLocation, walk: Walk): unknown {
  if (action === 'drop') {
    walk.state.changed = true;
    return DROPPED;
  }
  if (action === 'keep' && !walk.observe) return node;
  const clear = action === 'keep' || action.startsWith('mask') || action.startsWith('generalize');
  const leaf = (value: unknown, at: JsonLocation): unknown => {
    if (value === null) return null;
    if (Array.isArray(value)) return value.map((v, i) => leaf(v, [...at, i]));
    if (typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [name, child] of Object.entries(value)) out[name] = leaf(child, [...at, name]);
      return out;
    }
    const text = typeof value === 'string' ? value : String(value);
    const result = action === 'keep' ? value : transformText(action, text, walk.keys);
    if (result !== value) walk.state.changed = true;
    if (clear && walk.observe && text !== '') walk.observe(typeof result === 'string' ? result : String(result), () => formatJsonLocation(at));
    return result;
  };
  return leaf(node, location);
}
