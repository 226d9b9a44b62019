// Which stream and record an HL7 message changes. The mapping is data (hospital
// config on top of the defaults below), so a hospital whose LIS keys results by a
// different field changes a path, not code.

import type { EventOp } from '../../protocol/index.js';
import { Hl7Error, Hl7ErrorCode, Hl7MappingError, type Hl7ErrorLocation } from './hl7-errors.js';
import { parseHl7Path, type Hl7Message } from './hl7-message.js';

export interface Hl7MappingRule {
  /** "ADT^A08" (type and trigger), "ADT" (any trigger) or "*" (anything). "_" may stand for "^". */
  messageType: string;
  /** The stream the message is journaled to, e.g. "adt". */
  stream: string;
  /**
   * Paths to the record key, tried in order; the first with a value wins, e.g.
   * ["OBR-3.1", "ORC-3.1"]. A message where all are empty is answered AE 101.
   */
  keyPaths: string[];
  /** What the message does to that record; default "upsert". */
  op?: EventOp;
}

/** Where a message goes: the event's stream, key and op. */
export interface Hl7Route {
  stream: string;
  key: string;
  op: EventOp;
}

/**
 * The built-in mapping. Every message is an upsert of its record except ADT^A29
 * ("delete person information"), which deletes the patient key. (A23 deletes a
 * visit, not the person, so it stays an upsert of the patient record.) A hospital
 * that maps "ADT" itself replaces all of these ADT rules, so it must add its own
 * "ADT^A29" rule with op "delete" if it wants that behaviour.
 */
export const DEFAULT_HL7_MAPPING: readonly Hl7MappingRule[] = Object.freeze([
  { messageType: 'ADT^A29', stream: 'adt', keyPaths: ['PID-3.1'], op: 'delete' },
  { messageType: 'ADT', stream: 'adt', keyPaths: ['PID-3.1'] },
  // Results follow the filler's (the lab's) order number; orders the placer's.
  { messageType: 'ORU', stream: 'results', keyPaths: ['OBR-3.1', 'ORC-3.1'] },
  { messageType: 'ORM', stream: 'orders', keyPaths: ['ORC-2.1', 'OBR-2.1', 'ORC-3.1'] },
  { messageType: 'SIU', stream: 'appointments', keyPaths: ['SCH-1.1', 'SCH-2.1'] },
  { messageType: '*', stream: 'hl7-other', keyPaths: ['MSH-10'] },
] satisfies Hl7MappingRule[]);

interface CompiledRule {
  rule: Hl7MappingRule;
  type: string; // "" for "*"
  trigger: string; // "" for any
  specificity: number; // 2 type and trigger, 1 type, 0 "*"
}

const compiled = new WeakMap<readonly Hl7MappingRule[], CompiledRule[]>();

/**
 * The rules in force: configured ones first, then the defaults the configuration does
 * not replace. A configured type-only rule ("ADT") replaces every default for that
 * type; a configured "ADT^A08" replaces only a default "ADT^A08"; "*" replaces "*".
 *
 * @throws RangeError naming the rule when a message type or key path is malformed.
 */
export function mergeMapping(
  configured: readonly Hl7MappingRule[],
  defaults: readonly Hl7MappingRule[] = DEFAULT_HL7_MAPPING,
): Hl7MappingRule[] {
  const mine = compileRules(configured);
  const replaced = (d: CompiledRule): boolean =>
    mine.some((c) => c.type === d.type && (c.trigger === '' || c.trigger === d.trigger));
  return [...configured, ...compileRules(defaults).filter((d) => !replaced(d)).map((d) => d.rule)];
}

/**
 * Checks rules without routing anything, so a bad mapping fails at start.
 *
 * @throws RangeError naming the rule when a message type or key path is malformed.
 */
export function checkHl7Mapping(rules: readonly Hl7MappingRule[]): void {
  compileRules(rules);
}

/**
 * Routes a parsed message: the most specific matching rule wins (type and trigger,
 * then type, then "*"), and among equally specific rules the earlier one (so put
 * configured rules before defaults, as `mergeMapping` does).
 *
 * @throws Hl7MappingError (AE 101) when the key paths are all empty; Hl7Error (AE 200)
 *   when no rule matches (only possible without a "*" rule).
 */
export function resolveHl7Route(message: Hl7Message, rules: readonly Hl7MappingRule[]): Hl7Route {
  let list = compiled.get(rules);
  if (list === undefined) {
    list = compileRules(rules);
    compiled.set(rules, list);
  }
  const type = message.messageType.toUpperCase();
  const trigger = message.triggerEvent.toUpperCase();
  const messageType = trigger === '' ? type : `${type}^${trigger}`;

  let best: CompiledRule | undefined;
  for (const candidate of list) {
    const matches =
      candidate.type === '' || (candidate.type === type && (candidate.trigger === '' || candidate.trigger === trigger));
    if (matches && (best === undefined || candidate.specificity > best.specificity)) best = candidate;
  }
  if (best === undefined) {
    throw new Hl7Error(Hl7ErrorCode.UNSUPPORTED_MESSAGE_TYPE, `No HL7 mapping rule for ${messageType} and no "*" rule`, {
      location: { segment: 'MSH', sequence: 1, field: 9 },
    });
  }

  const { rule } = best;
  for (const path of rule.keyPaths) {
    const key = message.get(path).trim();
    // `""` is HL7's explicit null: no more a record key than an empty field.
    if (key !== '' && key !== '""') return { stream: rule.stream, key, op: rule.op ?? 'upsert' };
  }
  throw new Hl7MappingError(messageType, rule.stream, rule.keyPaths, locationOf(rule.keyPaths[0]));
}

function compileRules(rules: readonly Hl7MappingRule[]): CompiledRule[] {
  return rules.map((rule, index) => {
    const where = `HL7 mapping rule ${index + 1} (messageType "${rule.messageType}")`;
    const [type = '', anyTrigger = '', extra] = rule.messageType.trim().toUpperCase().split(/[\^_]/);
    const trigger = anyTrigger === '*' ? '' : anyTrigger;
    if (type === '' || extra !== undefined || (type === '*' && trigger !== '')) {
      throw new RangeError(`${where}: messageType must be "ADT", "ADT^A08" or "*"`);
    }
    if (rule.keyPaths.length === 0) throw new RangeError(`${where}: keyPaths must name at least one path`);
    for (const path of rule.keyPaths) {
      try {
        parseHl7Path(path);
      } catch (err) {
        throw new RangeError(`${where}: ${(err as Error).message}`, { cause: err });
      }
    }
    const wildcard = type === '*';
    return {
      rule,
      type: wildcard ? '' : type,
      trigger,
      specificity: wildcard ? 0 : trigger === '' ? 1 : 2,
    };
  });
}

function locationOf(path: string | undefined): Hl7ErrorLocation | undefined {
  if (path === undefined) return undefined;
  const p = parseHl7Path(path);
  const location: Hl7ErrorLocation = { segment: p.segment, sequence: p.occurrence ?? 1, field: p.field };
  if (p.repetition !== 1) location.repetition = p.repetition;
  if (p.component !== undefined) location.component = p.component;
  if (p.subcomponent !== undefined) location.subcomponent = p.subcomponent;
  return location;
}
