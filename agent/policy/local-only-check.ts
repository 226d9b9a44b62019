// Refuses, at start, any feed that would send what the hospital marked local-only:
// a local-only stream named in a feed, or a local-only field that the feed's
// policy (or the lack of one) does not drop, or a key taken from a local-only field
// that is not pseudonymised.
//
// "Would send" is decided by the same rule resolution the rewriters use, asked at
// every position that could be treated differently: the field's own position, and
// every occurrence, repetition, component or member that some rule singles out,
// plus one that no rule names. So `PID-3[2]: drop` with `PID-3.1: hash` passes for
// local-only `PID-3[2]` (drop wins the tie) while `PID-3: keep` with `PID-3.1: drop`
// does not (PID-3[2].4 would leave).
import { mergeMapping, DEFAULT_HL7_MAPPING, parseHl7Path, type Hl7MappingRule } from '../hl7/index.js';
import { compileStreamPolicy, type StreamPolicy } from './feed-policy.js';
import { hl7PathMatches, isHl7PolicyPathText, parseHl7PolicyPath, type Hl7Leaf, type Hl7PolicyPath, type Hl7Rule } from './hl7-policy-rules.js';
import { parseJsonPolicyPath, type JsonPathStep, type JsonPolicyPath } from './json-policy-rules.js';
import type { FieldAction } from './policy-action.js';
import type { LocalOnlyConfig, PolicyFeedConfig } from './policy-config.js';

export interface LocalOnlyViolation {
  /** Where in the config to look, e.g. `feeds[1].policy.streams.adt.fields.PID-19`. */
  configPath: string;
  feed: string;
  stream: string;
  /** The local-only field; undefined for a local-only stream. */
  field?: string;
  message: string;
}

export interface LocalOnlyCheckInput {
  feeds: readonly PolicyFeedConfig[];
  localOnly: LocalOnlyConfig;
  /** Per stream, the HL7 paths its event keys are read from (see hl7KeyPathsByStream). */
  hl7KeyPaths: ReadonlyMap<string, readonly string[]>;
}

/** Every way the feeds would send something local-only; empty when none would. */
export function findLocalOnlyViolations(input: LocalOnlyCheckInput): LocalOnlyViolation[] {
  const violations: LocalOnlyViolation[] = [];
  const localStreams = new Set(input.localOnly.streams);
  input.feeds.forEach((feed, i) => {
    feed.streams.forEach((stream, j) => {
      if (localStreams.has(stream)) {
        violations.push({
          configPath: `feeds[${i}].streams[${j}]`,
          feed: feed.name,
          stream,
          message: `feed "${feed.name}" would send local-only stream ${stream}; a local-only stream can be in no feed`,
        });
      }
    });
    for (const stream of feed.streams) {
      const fields = input.localOnly.fields[stream];
      if (!fields || fields.length === 0 || localStreams.has(stream)) continue;
      const policy = compileStreamPolicy(feed.policy, stream);
      for (const field of fields) {
        const leak = isHl7PolicyPathText(field) ? hl7Leak(policy, parseHl7PolicyPath(field)) : jsonLeak(policy, parseJsonPolicyPath(field));
        if (leak) {
          violations.push({
            configPath: configPathOf(i, feed, stream, leak.ruleText),
            feed: feed.name,
            stream,
            field,
            message:
              `feed "${feed.name}" would send local-only field ${field} of stream ${stream}: ` +
              `${leak.ruleText === undefined ? (feed.policy ? `the policy's default is ${leak.action}` : 'the feed has no policy, so everything leaves') : `rule ${leak.ruleText} says ${leak.action}`}` +
              `; a local-only field must be dropped`,
          });
        }
        const keyLeak = keyComesFrom(field, stream, input.hl7KeyPaths);
        if (keyLeak && policy.key !== 'hash') {
          violations.push({
            configPath: feed.policy ? (feed.policy.streams[stream]?.key !== undefined ? `feeds[${i}].policy.streams.${stream}.key` : `feeds[${i}].policy.key`) : `feeds[${i}]`,
            feed: feed.name,
            stream,
            field,
            message: `feed "${feed.name}" would send local-only field ${field} of stream ${stream} as the event key (${keyLeak}; key: ${policy.key}); set key: hash for this stream`,
          });
        }
      }
    }
  });
  return violations;
}

/** Per stream, the HL7 key paths the MLLP sources' mappings (and the defaults) read keys from. */
export function hl7KeyPathsByStream(mappings: readonly (readonly Hl7MappingRule[])[]): Map<string, string[]> {
  const byStream = new Map<string, string[]>();
  for (const rules of mappings.length === 0 ? [[]] : mappings) {
    for (const rule of mergeMapping(rules, DEFAULT_HL7_MAPPING)) {
      const list = byStream.get(rule.stream) ?? [];
      for (const path of rule.keyPaths) if (!list.includes(path)) list.push(path);
      byStream.set(rule.stream, list);
    }
  }
  return byStream;
}

interface Leak {
  action: FieldAction;
  ruleText: string | undefined;
}

function configPathOf(i: number, feed: PolicyFeedConfig, stream: string, ruleText: string | undefined): string {
  if (!feed.policy) return `feeds[${i}]`;
  if (ruleText === undefined) return feed.policy.streams[stream]?.default !== undefined ? `feeds[${i}].policy.streams.${stream}.default` : `feeds[${i}].policy.default`;
  return `feeds[${i}].policy.streams.${stream}.fields.${ruleText}`;
}

/** A value well past any position a rule names: stands for "every position no rule singles out". */
const UNNAMED = 9_999;

function hl7Leak(policy: StreamPolicy, field: Hl7PolicyPath): Leak | undefined {
  const rules = policy.hl7.rules.filter((r) => r.path.segment === field.segment);
  const values = (pinned: number | undefined, pick: (r: Hl7Rule) => number | undefined): number[] =>
    pinned !== undefined ? [pinned] : [...new Set([...rules.map(pick).filter((n): n is number => n !== undefined), 1, UNNAMED])];
  for (const occurrence of values(field.occurrence, (r) => r.path.occurrence))
    for (const fieldNo of values(field.field, (r) => r.path.field))
      for (const repetition of values(field.repetition, (r) => r.path.repetition))
        for (const component of values(field.component, (r) => r.path.component))
          for (const subcomponent of values(field.subcomponent, (r) => r.path.subcomponent)) {
            const leaf: Hl7Leaf = { segment: field.segment, occurrence, field: fieldNo, repetition, component, subcomponent };
            const rule = policy.hl7.winner(leaf);
            const action = rule?.action ?? policy.hl7.defaultFor(field.segment);
            if (action !== 'drop') return { action, ruleText: rule?.path.text };
          }
  return undefined;
}

function jsonLeak(policy: StreamPolicy, field: JsonPolicyPath): Leak | undefined {
  const rules = policy.json.rules;
  // Concrete positions for a step: itself when literal; otherwise every literal some
  // rule uses at that depth, and one no rule names.
  const concrete = (step: JsonPathStep, depth: number): (string | number)[] => {
    if ('name' in step) return [step.name];
    if ('index' in step) return [step.index];
    const named = rules.map((r) => r.path.steps[depth]).filter((s): s is JsonPathStep => s !== undefined);
    if ('anyName' in step) return [...new Set(named.flatMap((s) => ('name' in s ? [s.name] : []))), '\u0000unnamed'];
    return [...new Set(named.flatMap((s) => ('index' in s ? [s.index] : []))), UNNAMED];
  };
  let probes: (string | number)[][] = [[]];
  field.steps.forEach((step, depth) => {
    probes = probes.flatMap((prefix) => concrete(step, depth).map((at) => [...prefix, at]));
  });
  // Below the field: every deeper position a rule names, and unnamed children.
  const below: (string | number)[][] = [];
  for (const probe of probes) {
    below.push([...probe, '\u0000unnamed'], [...probe, UNNAMED]);
    for (const rule of rules) {
      if (rule.path.steps.length <= probe.length) continue;
      const tail = rule.path.steps.slice(probe.length).map((s, k) => concrete(s, probe.length + k)[0]!);
      below.push([...probe, ...tail]);
    }
  }
  for (const location of [...probes, ...below]) {
    const rule = policy.json.winner(location);
    const action = rule?.action ?? policy.json.defaultAction;
    if (action !== 'drop') return { action, ruleText: rule?.path.text };
  }
  return undefined;
}

/** How the event key comes from the local-only field, or undefined when it does not. */
function keyComesFrom(field: string, stream: string, hl7KeyPaths: ReadonlyMap<string, readonly string[]>): string | undefined {
  if (isHl7PolicyPathText(field)) {
    const path = parseHl7PolicyPath(field);
    for (const keyPath of hl7KeyPaths.get(stream) ?? []) {
      const p = parseHl7Path(keyPath);
      const leaf: Hl7Leaf = { segment: p.segment, occurrence: p.occurrence ?? 1, field: p.field, repetition: p.repetition, component: p.component ?? 1, subcomponent: p.subcomponent ?? 1 };
      if (hl7PathMatches(path, leaf)) return `HL7 key path ${keyPath}`;
    }
    return undefined;
  }
  const steps = parseJsonPolicyPath(field).steps;
  const first = steps[0];
  // `$` itself, `$.key` or `$.*` cover the row's key member, which is the event key.
  if (steps.length === 0 || (steps.length === 1 && first !== undefined && (('name' in first && first.name === 'key') || 'anyName' in first))) return 'the row\'s "key" member';
  return undefined;
}
