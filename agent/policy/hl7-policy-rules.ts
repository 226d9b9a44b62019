// Which rule of a stream's policy governs each value of an HL7 message.
//
// Paths: `PID` (every field of every PID), `OBX[2]` (the second OBX), `PID-13`
// (every repetition), `PID-3[2]` (the second repetition), `PID-3.1`, `PID-3[2].1`,
// `PID-3.1.2`, `OBX[2]-5`. Unlike the ingest mapping's paths, where an unspecified
// repetition or segment occurrence means "the first", here it means "every one": a
// rule for PID-13 must cover the patient's second phone number too.
//
// The most specific rule wins: the one naming the most of occurrence, field,
// repetition, component and subcomponent. Between equally specific rules the
// stricter action wins (drop > hash > encrypt > mask > generalize > keep), so a
// tie never lets more out. A value no rule names gets the stream's default, except
// in MSH, which is always kept unless a rule names its field (MSH carries routing,
// not patient data, and a vendor cannot read a message without MSH-9 and MSH-10).
import { strictness, type DefaultAction, type FieldAction } from './policy-action.js';

export interface Hl7PolicyPath {
  /** As written in the config. */
  text: string;
  segment: string;
  occurrence?: number;
  field?: number;
  repetition?: number;
  component?: number;
  subcomponent?: number;
}

/** One value's address in a message: every position known, all 1-based. */
export interface Hl7Leaf {
  segment: string;
  occurrence: number;
  field: number;
  repetition: number;
  component: number;
  subcomponent: number;
}

export interface Hl7Rule {
  path: Hl7PolicyPath;
  action: FieldAction;
  /** Position in the config, for a stable choice among identical rules. */
  order: number;
}

const PATH = /^([A-Za-z][A-Za-z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?)?$/;

/** True when the text is meant as an HL7 path (a JSON path starts with "$"). */
export function isHl7PolicyPathText(text: string): boolean {
  return /^[A-Za-z][A-Za-z0-9]{2}(?![A-Za-z0-9])/.test(text);
}

/**
 * Parses a policy path.
 * @throws RangeError naming the path when it is not of the documented form, has a
 *   position 0, or names MSH-1 / MSH-2 (the delimiters, which no policy may touch).
 */
export function parseHl7PolicyPath(text: string): Hl7PolicyPath {
  const m = PATH.exec(text);
  const numbers = m === null ? [] : [m[2], m[3], m[4], m[5], m[6]].map((n) => (n === undefined ? undefined : Number(n)));
  if (m === null || numbers.some((n) => n === 0)) {
    throw new RangeError(`"${text}" is not an HL7 path: expected SEG, SEG-field, SEG-field.component[.subcomponent], with [n] after SEG or field for one occurrence or repetition (e.g. PID-3[2].1, OBX[2]-5), positions from 1`);
  }
  const [occurrence, field, repetition, component, subcomponent] = numbers;
  const segment = m[1]!.toUpperCase();
  if (segment === 'MSH' && (field === 1 || field === 2)) {
    throw new RangeError(`"${text}" names the message's delimiters (MSH-1, MSH-2), which a policy cannot change`);
  }
  const path: Hl7PolicyPath = { text, segment };
  if (occurrence !== undefined) path.occurrence = occurrence;
  if (field !== undefined) path.field = field;
  if (repetition !== undefined) path.repetition = repetition;
  if (component !== undefined) path.component = component;
  if (subcomponent !== undefined) path.subcomponent = subcomponent;
  return path;
}

/** How many positions the path pins down besides the segment (0–5). */
export function hl7Specificity(path: Hl7PolicyPath): number {
  let n = 0;
  if (path.occurrence !== undefined) n++;
  if (path.field !== undefined) n++;
  if (path.repetition !== undefined) n++;
  if (path.component !== undefined) n++;
  if (path.subcomponent !== undefined) n++;
  return n;
}

export function hl7PathMatches(path: Hl7PolicyPath, leaf: Hl7Leaf): boolean {
  return (
    path.segment === leaf.segment &&
    (path.occurrence === undefined || path.occurrence === leaf.occurrence) &&
    (path.field === undefined || path.field === leaf.field) &&
    (path.repetition === undefined || path.repetition === leaf.repetition) &&
    (path.component === undefined || path.component === leaf.component) &&
    (path.subcomponent === undefined || path.subcomponent === leaf.subcomponent)
  );
}

/** A leaf as a path an operator can read in status, e.g. `NTE[2]-3`, `PID-3[2]`, `PID-11.3`. */
export function formatHl7Leaf(leaf: Hl7Leaf): string {
  let out = leaf.segment;
  if (leaf.occurrence > 1) out += `[${leaf.occurrence}]`;
  out += `-${leaf.field}`;
  if (leaf.repetition > 1) out += `[${leaf.repetition}]`;
  if (leaf.component > 1 || leaf.subcomponent > 1) out += `.${leaf.component}`;
  if (leaf.subcomponent > 1) out += `.${leaf.subcomponent}`;
  return out;
}

/**
 * How one field of one segment occurrence is to be rewritten: one action for all
 * of it, or per value (some rule names a repetition, component or subcomponent).
 */
export type Hl7FieldPlan = { uniform: FieldAction } | { positional: Hl7Rule[] };

/** Most segment occurrences whose field plans are remembered per rule set; past it they are recomputed. */
const PLAN_CACHE_LIMIT = 1_000;

/** Between two equally specific rules: the stricter wins, then the one written first. */
export function outranks(rule: Hl7Rule, other: Hl7Rule): boolean {
  const a = strictness(rule.action);
  const b = strictness(other.action);
  return a > b || (a === b && rule.order < other.order);
}

/** The rules of one stream for HL7 messages, with the stream's default. */
export class Hl7RuleSet {
  private readonly bySegment = new Map<string, Hl7Rule[]>();
  /** Segments whose rules never pin an occurrence: their plans do not depend on it. */
  private readonly occurrenceBlind = new Set<string>();
  /** Field plans by segment (and occurrence, where a rule pins one), indexed by field number. */
  private readonly plans = new Map<string, Hl7FieldPlan[]>();
  private readonly wholeSegment = new Map<string, 'keep' | 'drop' | 'remove' | undefined>();

  constructor(
    readonly rules: readonly Hl7Rule[],
    readonly defaultAction: DefaultAction,
  ) {
    for (const rule of rules) {
      const list = this.bySegment.get(rule.path.segment);
      if (list) list.push(rule);
      else this.bySegment.set(rule.path.segment, [rule]);
    }
    for (const [segment, list] of this.bySegment) if (list.every((r) => r.path.occurrence === undefined)) this.occurrenceBlind.add(segment);
  }

  /**
   * The plan for one field, remembered: batches rewrite the same few segments
   * thousands of times, so rule resolution is done once per field, not per value.
   */
  fieldPlan(segment: string, occurrence: number, field: number): Hl7FieldPlan {
    const key = this.occurrenceBlind.has(segment) || !this.bySegment.has(segment) ? segment : `${segment}[${occurrence}]`;
    let row = this.plans.get(key);
    if (row === undefined) {
      if (this.plans.size >= PLAN_CACHE_LIMIT) this.plans.clear();
      this.plans.set(key, (row = []));
    }
    let plan = row[field];
    if (plan === undefined) {
      const candidates = this.candidates(segment, occurrence, field);
      plan = candidates.every((r) => r.path.repetition === undefined && r.path.component === undefined && r.path.subcomponent === undefined)
        ? { uniform: this.winner({ segment, occurrence, field, repetition: 1, component: 1, subcomponent: 1 }, candidates)?.action ?? this.defaultFor(segment) }
        : { positional: candidates };
      row[field] = plan;
    }
    return plan;
  }

  /**
   * What happens to every field of a segment, when that does not depend on the
   * field: 'keep' (the line as it is), 'drop' (the segment id alone), 'remove' (a
   * segment rule drops it), or undefined (field by field).
   */
  segmentPlan(segment: string): 'keep' | 'drop' | 'remove' | undefined {
    if (this.wholeSegment.has(segment)) return this.wholeSegment.get(segment);
    const list = this.bySegment.get(segment) ?? [];
    const fallback = this.defaultFor(segment);
    const segmentRule = list.find((r) => r.path.field === undefined && r.path.occurrence === undefined);
    let plan: 'keep' | 'drop' | 'remove' | undefined;
    if (list.every((r) => r.path.occurrence === undefined)) {
      const actions = new Set([...list.map((r) => r.action), ...(segmentRule ? [] : [fallback])]);
      if (actions.size === 1 && actions.has('keep')) plan = 'keep';
      else if (actions.size === 1 && actions.has('drop') && segment !== 'MSH') plan = segmentRule ? 'remove' : 'drop';
    }
    this.wholeSegment.set(segment, plan);
    return plan;
  }

  /** The rules that may govern some value of one field of one segment occurrence. */
  candidates(segment: string, occurrence: number, field: number): Hl7Rule[] {
    const list = this.bySegment.get(segment);
    if (!list) return [];
    return list.filter(
      (r) => (r.path.occurrence === undefined || r.path.occurrence === occurrence) && (r.path.field === undefined || r.path.field === field),
    );
  }

  /** What a value no rule names gets in this segment. */
  defaultFor(segment: string): DefaultAction {
    return segment === 'MSH' ? 'keep' : this.defaultAction;
  }

  /** The rule governing one value; undefined when the default applies. */
  winner(leaf: Hl7Leaf, candidates: readonly Hl7Rule[] = this.candidates(leaf.segment, leaf.occurrence, leaf.field)): Hl7Rule | undefined {
    let best: Hl7Rule | undefined;
    let bestSpecificity = -1;
    for (const rule of candidates) {
      if (!hl7PathMatches(rule.path, leaf)) continue;
      const s = hl7Specificity(rule.path);
      if (best === undefined || s > bestSpecificity || (s === bestSpecificity && outranks(rule, best))) {
        best = rule;
        bestSpecificity = s;
      }
    }
    return best;
  }

  /** The action governing one value, the default included. */
  actionAt(leaf: Hl7Leaf): FieldAction {
    return this.winner(leaf)?.action ?? this.defaultFor(leaf.segment);
  }

  /**
   * Whether a whole segment occurrence is removed: its most specific segment-level
   * rule (`NTE`, `NTE[2]`) is drop. Rules for its fields still apply first; the
   * segment goes only if nothing in it is left.
   */
  segmentDropped(segment: string, occurrence: number): boolean {
    const list = this.bySegment.get(segment);
    if (!list) return false;
    let best: Hl7Rule | undefined;
    for (const rule of list) {
      if (rule.path.field !== undefined) continue;
      if (rule.path.occurrence !== undefined && rule.path.occurrence !== occurrence) continue;
      const s = hl7Specificity(rule.path);
      if (best === undefined || s > hl7Specificity(best.path) || (s === hl7Specificity(best.path) && strictness(rule.action) > strictness(best.action))) best = rule;
    }
    return best?.action === 'drop';
  }
}
