// Rewrites an HL7 v2 message as a stream's policy says, value by value, and
// serialises it again with the message's own delimiters and escaping.
//
// Failure modes handled:
//  1. Everything no rule changes stays byte for byte as it came: untouched
//     segments, fields and leaves are copied from the original text, including
//     escape sequences the agent does not interpret and the segment terminators
//     (CR, CRLF or LF) the sender used.
//  2. A transformed value containing a delimiter (a name with "^", a token with
//     ":"): escaped with the message's escape character (\S\, \F\, …), so the
//     result parses again with every other value where it was.
//  3. \Xhh\ escapes are decoded in the message's MSH-18 character set before a
//     value is hashed or masked, so 张 sent as \XD5C5\ hashes like 张 sent plainly.
//  4. A message that does not parse: Hl7Error from Hl7Message.parse; the caller
//     decides (feed-policy.ts sends nothing of it).
import iconv from 'iconv-lite';
import { escapeHl7, hl7CharsetEncoding, Hl7Message, unescapeHl7, type Hl7Delimiters } from '../hl7/index.js';
import { formatHl7Leaf, hl7Specificity, outranks, type Hl7Rule, type Hl7RuleSet } from './hl7-policy-rules.js';
import { transformValue, type ActionKeys, type FieldAction, type StructuredValue } from './policy-action.js';

/**
 * Sees every value that leaves in clear (kept, masked or generalised), so the
 * identifier scan can look at it; `where` says where it is (`NTE[2]-3`), and is
 * only worth calling for a value that holds something.
 */
export type ClearValueObserver = (text: string, where: () => string) => void;

/** Actions whose output is readable text, as opposed to dropped, pseudonymised or encrypted. */
export function leavesInClear(action: FieldAction): boolean {
  return action === 'keep' || action.startsWith('mask') || action.startsWith('generalize');
}

/**
 * The message rewritten by `rules`; the same string when nothing changed.
 * @throws Hl7Error when the text is not a parseable HL7 message.
 */
export function rewriteHl7(text: string, rules: Hl7RuleSet, keys: ActionKeys, observe?: ClearValueObserver): string {
  const message = Hl7Message.parse(text);
  const d = message.delimiters;
  const encoding = hl7CharsetEncoding(message.charset) ?? 'utf8';
  const decodeHex = (bytes: Buffer): string => (encoding === 'utf8' ? bytes.toString('utf8') : iconv.decode(bytes, encoding));
  const context: FieldContext = { rules, keys, d, unescape: (raw) => unescapeHl7(raw, d, decodeHex), observe };

  // Same segmentation as the parser: CR or CRLF, or LF alone only when there is no CR.
  const pieces = text.includes('\r') ? text.split(/(\r\n?)/) : text.split(/(\n)/);
  const occurrences = new Map<string, number>();
  let changed = false;
  const out: string[] = [];
  for (let i = 0; i < pieces.length; i += 2) {
    const line = pieces[i]!;
    const terminator = pieces[i + 1] ?? '';
    if (line.trim().length === 0) {
      out.push(line, terminator);
      continue;
    }
    const segment = line.slice(0, 3);
    const occurrence = (occurrences.get(segment) ?? 0) + 1;
    occurrences.set(segment, occurrence);
    const rewritten = rewriteSegment(line, segment, occurrence, context);
    if (rewritten === line) {
      out.push(line, terminator);
      continue;
    }
    changed = true;
    if (rewritten !== undefined) out.push(rewritten, terminator);
  }
  return changed ? out.join('') : text;
}

interface FieldContext {
  rules: Hl7RuleSet;
  keys: ActionKeys;
  d: Hl7Delimiters;
  unescape: (raw: string) => string;
  observe: ClearValueObserver | undefined;
}

/** The segment rewritten; undefined when it is removed altogether. */
function rewriteSegment(line: string, segment: string, occurrence: number, context: FieldContext): string | undefined {
  const { rules, d, observe } = context;
  switch (rules.segmentPlan(segment)) {
    case 'keep':
      if (observe) observeWholeSegment(line, segment, occurrence, context);
      return line;
    case 'drop':
      return segment;
    case 'remove':
      return undefined;
  }
  const parts = line.split(d.field);
  // In MSH, parts[1] is MSH-2 (the encoding characters) and parts[i] is MSH-(i+1).
  const isMsh = segment === 'MSH';
  const first = isMsh ? 2 : 1;
  let changed = false;
  for (let i = first; i < parts.length; i++) {
    const field = isMsh ? i + 1 : i;
    const raw = parts[i]!;
    const rewritten = rewriteField(raw, { segment, occurrence, field }, context);
    if (rewritten !== raw) {
      parts[i] = rewritten;
      changed = true;
    }
  }
  if (!changed) return line;
  let end = parts.length;
  while (end > first && parts[end - 1] === '') end--;
  if (end === 1 && !isMsh && rules.segmentDropped(segment, occurrence)) return undefined;
  return parts.slice(0, Math.max(end, 1)).join(d.field);
}

interface FieldAddress {
  segment: string;
  occurrence: number;
  field: number;
}

function rewriteField(raw: string, at: FieldAddress, context: FieldContext): string {
  const { rules, d, observe } = context;
  if (raw === '') return raw;
  const plan = rules.fieldPlan(at.segment, at.occurrence, at.field);
  // The common case: no rule names a repetition, component or subcomponent of the
  // field. One action governs all of it, each repetition is one unit, and no
  // per-value resolution is needed (a batch of ORU messages has thousands of OBX values).
  if ('uniform' in plan) {
    const action = plan.uniform;
    if (action === 'keep') {
      observe?.(raw, () => fieldPath(at));
      return raw;
    }
    if (action === 'drop') return '';
    return rewriteRepetitions(raw, action, at, context);
  }
  const candidates = plan.positional;
  const fallback = rules.defaultFor(at.segment);

  // The field as repetitions → components → subcomponents, raw (still escaped);
  // `out` receives the results, `tree` stays as sent for every unit to read.
  const tree = raw.split(d.repetition).map((rep) => rep.split(d.component).map((comp) => comp.split(d.subcomponent)));
  const out = tree.map((comps) => comps.map((subs) => subs.slice()));
  let changed = false;
  // Values under keep and drop are settled one by one; the others are grouped by
  // the rule that governs them and the unit that rule addresses (a repetition, a
  // component or a subcomponent): "mask" on PID-5 must see FAMILY^GIVEN together.
  const units = new Map<string, { rule: Hl7Rule; rep: number; comp: number | undefined; sub: number | undefined; owned: Set<string> }>();
  for (let r = 0; r < tree.length; r++) {
    const comps = tree[r]!;
    for (let c = 0; c < comps.length; c++) {
      const subs = comps[c]!;
      for (let s = 0; s < subs.length; s++) {
        const rule = winnerAt(candidates, r + 1, c + 1, s + 1);
        const action = rule?.action ?? fallback;
        if (action === 'keep') {
          if (observe && subs[s] !== '') observe(subs[s]!, () => fieldPath(at));
        } else if (action === 'drop') {
          if (subs[s] !== '') {
            out[r]![c]![s] = '';
            changed = true;
          }
        } else {
          const depth = unitDepth(rule!);
          const key = `${rule!.order}|${r}|${depth >= 1 ? c : ''}|${depth >= 2 ? s : ''}`;
          let unit = units.get(key);
          if (!unit) units.set(key, (unit = { rule: rule!, rep: r, comp: depth >= 1 ? c : undefined, sub: depth >= 2 ? s : undefined, owned: new Set() }));
          unit.owned.add(`${c}.${s}`);
        }
      }
    }
  }

  for (const unit of units.values()) {
    // The unit's value, unescaped, in the shape the action expects.
    const comps = tree[unit.rep]!;
    const unitComps = unit.comp === undefined ? comps : [unit.sub === undefined ? comps[unit.comp]! : [comps[unit.comp]![unit.sub]!]];
    const value: StructuredValue = unitComps.map((subs) => subs.map(context.unescape));
    const result = transformValue(unit.rule.action, value, context.keys);
    result.forEach((subs, uc) =>
      subs.forEach((text, us) => {
        const c = unit.comp ?? uc;
        const s = unit.sub ?? us;
        if (!unit.owned.has(`${c}.${s}`)) return;
        if (observe && text !== '' && leavesInClear(unit.rule.action)) observe(text, () => fieldPath(at));
        if (text === value[uc]![us]) return;
        out[unit.rep]![c]![s] = escapeHl7(text, d);
        changed = true;
      }),
    );
  }
  if (!changed) return raw;
  return trimJoin(
    out.map((comps) => trimJoin(comps.map((subs) => trimJoin(subs, d.subcomponent)), d.component)),
    d.repetition,
  );
}

/** The rule governing one value of a field, among rules already matching its segment, occurrence and field. */
function winnerAt(candidates: readonly Hl7Rule[], repetition: number, component: number, subcomponent: number): Hl7Rule | undefined {
  let best: Hl7Rule | undefined;
  let bestSpecificity = -1;
  for (const rule of candidates) {
    const p = rule.path;
    if ((p.repetition !== undefined && p.repetition !== repetition) || (p.component !== undefined && p.component !== component) || (p.subcomponent !== undefined && p.subcomponent !== subcomponent)) continue;
    const specificity = hl7Specificity(p);
    if (best === undefined || specificity > bestSpecificity || (specificity === bestSpecificity && outranks(rule, best))) {
      best = rule;
      bestSpecificity = specificity;
    }
  }
  return best;
}

/** One action on every repetition of a field, each repetition as one value. */
function rewriteRepetitions(raw: string, action: FieldAction, at: FieldAddress, context: FieldContext): string {
  const { d, observe } = context;
  let changed = false;
  const reps = raw.split(d.repetition).map((rep) => {
    const comps = rep.split(d.component).map((comp) => comp.split(d.subcomponent));
    const value: StructuredValue = comps.map((subs) => subs.map(context.unescape));
    const result = transformValue(action, value, context.keys);
    let repChanged = false;
    const out = result.map((subs, c) =>
      subs.map((text, s) => {
        if (text === value[c]![s]) return comps[c]![s]!;
        repChanged = true;
        return escapeHl7(text, d);
      }),
    );
    if (observe && leavesInClear(action)) for (const subs of result) for (const text of subs) if (text !== '') observe(text, () => fieldPath(at));
    if (!repChanged) return rep;
    changed = true;
    return trimJoin(out.map((subs) => trimJoin(subs, d.subcomponent)), d.component);
  });
  return changed ? trimJoin(reps, d.repetition) : raw;
}

/** 0: the rule addresses whole repetitions; 1: one component; 2: one subcomponent. */
function unitDepth(rule: Hl7Rule): number {
  if (rule.path.subcomponent !== undefined) return 2;
  if (rule.path.component !== undefined) return 1;
  return 0;
}

/** Joins, leaving out trailing empty pieces as HL7 senders do. */
function trimJoin(pieces: string[], separator: string): string {
  let end = pieces.length;
  while (end > 0 && pieces[end - 1] === '') end--;
  return pieces.slice(0, end).join(separator);
}

function fieldPath(at: FieldAddress): string {
  return formatHl7Leaf({ ...at, repetition: 1, component: 1, subcomponent: 1 });
}

function observeWholeSegment(line: string, segment: string, occurrence: number, context: FieldContext): void {
  const parts = line.split(context.d.field);
  const isMsh = segment === 'MSH';
  for (let i = isMsh ? 2 : 1; i < parts.length; i++) {
    if (parts[i] !== '') context.observe!(parts[i]!, () => fieldPath({ segment, occurrence, field: isMsh ? i + 1 : i }));
  }
}
