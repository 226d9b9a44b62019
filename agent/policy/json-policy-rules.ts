// Which rule of a stream's policy governs each value of a JSON row.
//
// Paths, deliberately a small subset of JSONPath: `$` (the whole row), `$.phone`,
// `$.patient.name`, `$.ids[0]`, `$.ids[*].value` (every element), `$.contact.*`
// (every member), `$['床位 号']` / `$["a.b"]` for names that are not plain words.
// Plain names may be any characters but ". [ ] * ' \"" and spaces, so `$.姓名` works.
//
// A rule governs the value at its path and everything below it. For one value the
// rule naming more of its position wins (more literal names and indices, `*` not
// counted), as with HL7 paths; between equally specific rules the stricter action
// (drop > hash > encrypt > mask > generalize > keep), so `$.ids[1]: drop` beats
// `$.ids[*].value: hash` for the second id. A value no rule reaches gets the
// stream's default.
//
// The row's `key` member is the event key: unless a rule names `$.key` exactly, it
// gets the stream's key action, so the body never gives away a key the policy hides.
import { strictness, type DefaultAction, type FieldAction } from './policy-action.js';

export type JsonPathStep = { name: string } | { index: number } | { anyName: true } | { anyIndex: true };

/** A position in a parsed row: member names and array indices from the root. */
export type JsonLocation = readonly (string | number)[];

export interface JsonPolicyPath {
  text: string;
  steps: JsonPathStep[];
}

export interface JsonRule {
  path: JsonPolicyPath;
  action: FieldAction;
  order: number;
}

const STEP = /^(?:\.([^.[\]*'"\s]+)|\.\*|\[(\d+)\]|\[\*\]|\['([^']*)'\]|\["([^"]*)"\])/;

/**
 * Parses `$`, `$.a.b`, `$.a[0]`, `$.a[*].b`, `$.a.*`, `$['x y']`.
 * @throws RangeError naming the path and the position where it stops making sense.
 */
export function parseJsonPolicyPath(text: string): JsonPolicyPath {
  if (!text.startsWith('$')) throw new RangeError(`"${text}" is not a JSON path: expected it to start with "$", e.g. $.patient.name`);
  const steps: JsonPathStep[] = [];
  let rest = text.slice(1);
  while (rest.length > 0) {
    const m = STEP.exec(rest);
    if (!m) {
      throw new RangeError(`"${text}" is not a JSON path: cannot read "${rest}" (expected .name, .*, [n], [*] or ['name'])`);
    }
    if (m[1] !== undefined) steps.push({ name: m[1] });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else if (m[3] !== undefined) steps.push({ name: m[3] });
    else if (m[4] !== undefined) steps.push({ name: m[4] });
    else if (m[0] === '.*') steps.push({ anyName: true });
    else steps.push({ anyIndex: true });
    rest = rest.slice(m[0].length);
  }
  return { text, steps };
}

/** A location as a path an operator can read, e.g. `$.contacts[1].mobile`. */
export function formatJsonLocation(location: JsonLocation): string {
  let out = '$';
  for (const step of location) {
    if (typeof step === 'number') out += `[${step}]`;
    else out += /^[^.[\]*'"\s]+$/.test(step) ? `.${step}` : `['${step}']`;
  }
  return out;
}

function stepMatches(step: JsonPathStep, at: string | number): boolean {
  if ('name' in step) return step.name === at;
  if ('index' in step) return step.index === at;
  if ('anyName' in step) return typeof at === 'string';
  return typeof at === 'number';
}

function literalSteps(path: JsonPolicyPath): number {
  return path.steps.filter((s) => 'name' in s || 'index' in s).length;
}

/** Whether the path's steps match the first steps of `location` (the path is it or an ancestor of it). */
function governs(path: JsonPolicyPath, location: JsonLocation): boolean {
  if (path.steps.length > location.length) return false;
  return path.steps.every((step, i) => stepMatches(step, location[i]!));
}

/** Whether the path reaches below `location` (so `location` must be walked into). */
function reachesBelow(path: JsonPolicyPath, location: JsonLocation): boolean {
  if (path.steps.length <= location.length) return false;
  return location.every((at, i) => stepMatches(path.steps[i]!, at));
}

/** The rules of one stream for JSON rows, with the stream's default and key action. */
export class JsonRuleSet {
  readonly rules: readonly JsonRule[];

  constructor(rules: readonly JsonRule[], readonly defaultAction: DefaultAction, keyAction: FieldAction) {
    const namesKey = rules.some((r) => r.path.steps.length === 1 && 'name' in r.path.steps[0]! && r.path.steps[0].name === 'key');
    this.rules = namesKey ? rules : [...rules, { path: { text: '$.key', steps: [{ name: 'key' }] }, action: keyAction, order: Number.MAX_SAFE_INTEGER }];
  }

  /** The rule governing the value at `location`; undefined when the default applies. */
  winner(location: JsonLocation): JsonRule | undefined {
    let best: JsonRule | undefined;
    for (const rule of this.rules) {
      if (!governs(rule.path, location)) continue;
      if (best === undefined || compare(rule, best) > 0) best = rule;
    }
    return best;
  }

  actionAt(location: JsonLocation): FieldAction {
    return this.winner(location)?.action ?? this.defaultAction;
  }

  /** Whether some rule addresses a value strictly below `location`. */
  reachesBelow(location: JsonLocation): boolean {
    return this.rules.some((rule) => reachesBelow(rule.path, location));
  }
}

function compare(a: JsonRule, b: JsonRule): number {
  return literalSteps(a.path) - literalSteps(b.path) || strictness(a.action) - strictness(b.action) || b.order - a.order;
}
