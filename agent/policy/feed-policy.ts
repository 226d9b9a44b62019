// A feed's policy, compiled from the config, and `applyPolicy`: the pure step the
// feed pump runs on every batch it builds, so a policy change governs everything
// not yet sent and nothing leaves that the policy has not shaped.
//
// Per event: the key gets the stream's key action; an hl7v2 body is rewritten
// field by field (hl7-rewriter.ts), a json body member by member (json-rewriter.ts);
// a body of another content type leaves only when the stream's default is keep,
// except a blob-ref body of a feed with `dicom`: it passes unchanged, and the
// feed's de-identification (agent/policy/dicom) rewrites the instance and the
// body when the instance ships.
// Headers (controlId, messageType, sendingApplication, sendingFacility, charset, originalCharset)
// are routing data and leave unchanged; the scan still looks at them.
//
// Failure modes handled:
//  1. A body the policy cannot read (not HL7, not JSON): it leaves empty, never as
//     it was, and is counted (`unreadableSeqs`) so status shows it.
//  2. A policy that hashes or encrypts without the key to do it: refused when the
//     policy is compiled, at start (PolicyKeyError KEY_MISSING naming the feed).
import { createHash } from 'node:crypto';
import { BLOB_REF_CONTENT_TYPE, type JournalEvent } from '../../protocol/index.js';
import { PolicyErrorCode, PolicyKeyError } from './errors.js';
import { Hl7RuleSet, isHl7PolicyPathText, parseHl7PolicyPath, type Hl7Rule } from './hl7-policy-rules.js';
import { leavesInClear, rewriteHl7, type ClearValueObserver } from './hl7-rewriter.js';
import { findIdentifiers, type IdentifierKind } from './identifiers.js';
import { JsonRuleSet, parseJsonPolicyPath, type JsonRule } from './json-policy-rules.js';
import { rewriteJson } from './json-rewriter.js';
import { keyKindFor, transformText, type ActionKeys, type DefaultAction, type FieldAction, type KeyAction } from './policy-action.js';
import type { DicomPolicyConfig, FeedPolicyConfig, PolicyFeedConfig } from './policy-config.js';
import { pseudonym, type HospitalKey } from './pseudonym.js';

/** One stream's compiled rules. */
export interface StreamPolicy {
  stream: string;
  key: KeyAction;
  default: DefaultAction;
  hl7: Hl7RuleSet;
  json: JsonRuleSet;
}

/** A feed's policy, ready for applyPolicy. */
export interface FeedPolicy {
  feed: string;
  /** Stable number derived from the effective policy and the keys it uses (never 0: 0 is pass-through). */
  version: number;
  /** SHA-256 (hex) of the canonical policy the version is taken from. */
  fingerprint: string;
  scan: boolean;
  streams: ReadonlyMap<string, StreamPolicy>;
  keys: ActionKeys;
  /** De-identification of the DICOM instances (blob-ref events); absent when the feed has none. Its key is `keys.pseudonym`. */
  dicom?: DicomPolicyConfig;
}

/** The hospital's active keys, as the keyring holds them. */
export interface ActivePolicyKeys {
  pseudonym?: HospitalKey;
  encryption?: HospitalKey;
}

/** An identifier found in what leaves in clear. Never holds the identifier itself. */
export interface IdentifierFinding {
  kind: IdentifierKind;
  stream: string;
  /** Where: an HL7 field (`NTE[2]-3`), a JSON location (`$.remark`), `key` or `headers.<name>`. */
  path: string;
  seq: number;
}

export interface PolicyResult {
  /** The events as they may leave, in the same order, one for one. */
  events: JournalEvent[];
  /** Empty unless the policy scans. */
  findings: IdentifierFinding[];
  /** Events whose body the policy could not read and sent empty. */
  unreadableSeqs: number[];
}

/**
 * The rules of one stream of a feed. A feed without a policy gets pass-through
 * rules (everything kept), which is what the local-only check tests against.
 */
export function compileStreamPolicy(policy: FeedPolicyConfig | undefined, stream: string): StreamPolicy {
  if (!policy) return { stream, key: 'keep', default: 'keep', hl7: new Hl7RuleSet([], 'keep'), json: new JsonRuleSet([], 'keep', 'keep') };
  const config = policy.streams[stream];
  const key = config?.key ?? policy.key;
  const fallback = config?.default ?? policy.default;
  const hl7: Hl7Rule[] = [];
  const json: JsonRule[] = [];
  Object.entries(config?.fields ?? {}).forEach(([path, action], order) => {
    if (isHl7PolicyPathText(path)) hl7.push({ path: parseHl7PolicyPath(path), action, order });
    else json.push({ path: parseJsonPolicyPath(path), action, order });
  });
  return { stream, key, default: fallback, hl7: new Hl7RuleSet(hl7, fallback), json: new JsonRuleSet(json, fallback, key) };
}

/**
 * Compiles a feed's policy; undefined for a feed without one (pass-through).
 * @throws PolicyKeyError KEY_MISSING when the policy hashes or encrypts and the
 *   matching key is not in `keys`.
 */
export function compileFeedPolicy(feed: PolicyFeedConfig, keys: ActivePolicyKeys): FeedPolicy | undefined {
  if (!feed.policy) return undefined;
  const streams = new Map(feed.streams.map((stream) => [stream, compileStreamPolicy(feed.policy, stream)]));
  const needs = new Map<'pseudonym' | 'encryption', string>();
  for (const s of streams.values()) {
    const uses: [string, FieldAction | KeyAction][] = [
      [`stream ${s.stream}: key`, s.key],
      ...s.hl7.rules.map((r): [string, FieldAction] => [`stream ${s.stream}: ${r.path.text}`, r.action]),
      ...s.json.rules.map((r): [string, FieldAction] => [`stream ${s.stream}: ${r.path.text}`, r.action]),
    ];
    for (const [where, action] of uses) {
      const kind = keyKindFor(action);
      if (kind && !needs.has(kind)) needs.set(kind, where);
    }
  }
  // UIDs are remapped and the patient pseudonymised with the pseudonym key.
  if (feed.policy.dicom && !needs.has('pseudonym')) needs.set('pseudonym', 'policy.dicom: UIDs and patient IDs are remapped with it');
  for (const [kind, where] of needs) {
    if (!keys[kind]) {
      throw new PolicyKeyError(
        `feed "${feed.name}" ${kind === 'pseudonym' ? 'hashes' : 'encrypts'} (${where}) but there is no active ${kind} key: set keys.dir and run \`wardline keys rotate --kind ${kind} --config\` with this config file`,
        PolicyErrorCode.KEY_MISSING,
      );
    }
  }
  const used: ActionKeys = {};
  if (needs.has('pseudonym')) used.pseudonym = keys.pseudonym!;
  if (needs.has('encryption')) used.encryption = keys.encryption!;
  const canonical = JSON.stringify({
    streams: [...streams.values()].map((s) => ({
      stream: s.stream,
      key: s.key,
      default: s.default,
      hl7: s.hl7.rules.map((r) => [r.path.text, r.action]).sort(),
      json: s.json.rules.map((r) => [r.path.text, r.action]).sort(),
    })),
    // A rotated key changes every pseudonym: that is a new policy version too.
    keys: { pseudonym: used.pseudonym?.id ?? null, encryption: used.encryption?.id ?? null },
    // Only when present, so the versions of feeds without it stay what they were.
    ...(feed.policy.dicom ? { dicom: { ...feed.policy.dicom, keepPrivateTags: [...feed.policy.dicom.keepPrivateTags].sort() } } : {}),
  });
  const digest = createHash('sha256').update(canonical).digest();
  return {
    feed: feed.name,
    version: digest.readUInt32BE(0) || 1,
    fingerprint: digest.toString('hex'),
    scan: feed.policy.scan,
    streams,
    keys: used,
    ...(feed.policy.dicom ? { dicom: feed.policy.dicom } : {}),
  };
}

/**
 * Shapes a batch's events as the policy says: one event out for each event in, same
 * order, same seqs. Pure but for the random IVs of encrypted values. A feed reads
 * only its own streams, so an event of a stream the policy does not know cannot
 * occur; should it, it leaves with nothing in it (empty body, key pseudonymised or
 * emptied) and is counted as unreadable.
 */
export function applyPolicy(policy: FeedPolicy, events: readonly JournalEvent[]): PolicyResult {
  const findings: IdentifierFinding[] = [];
  const unreadableSeqs: number[] = [];
  const shaped = events.map((event) => {
    const stream = policy.streams.get(event.stream);
    const observe: ClearValueObserver | undefined = policy.scan
      ? (text, where) => {
          for (const match of findIdentifiers(text)) findings.push({ kind: match.kind, stream: event.stream, path: where(), seq: event.seq });
        }
      : undefined;
    if (!stream) {
      unreadableSeqs.push(event.seq);
      return { ...event, key: policy.keys.pseudonym ? pseudonym(policy.keys.pseudonym, event.key) : '', body: Buffer.alloc(0) };
    }
    const key = transformText(stream.key, event.key, policy.keys);
    if (observe && leavesInClear(stream.key)) observe(key, () => 'key');
    if (observe) for (const [name, value] of Object.entries(event.headers)) observe(value, () => `headers.${name}`);
    let body = event.body;
    try {
      body = shapeBody(event, stream, policy, observe);
    } catch {
      unreadableSeqs.push(event.seq);
      body = Buffer.alloc(0);
    }
    return key === event.key && body === event.body ? event : { ...event, key, body };
  });
  return { events: shaped, findings, unreadableSeqs };
}

function shapeBody(event: JournalEvent, stream: StreamPolicy, policy: FeedPolicy, observe: ClearValueObserver | undefined): Buffer {
  if (event.contentType === 'hl7v2' || event.contentType === 'json') {
    const text = event.body.toString('utf8');
    const out = event.contentType === 'hl7v2' ? rewriteHl7(text, stream.hl7, policy.keys, observe) : rewriteJson(text, stream.json, policy.keys, observe);
    return out === text ? event.body : Buffer.from(out, 'utf8');
  }
  // The instance is de-identified when it ships (the feed's deidentify transform); the body is replaced then.
  if (event.contentType === BLOB_REF_CONTENT_TYPE && policy.dicom) return event.body;
  // Opaque content (blob references): nothing to shape field by field.
  return stream.default === 'keep' ? event.body : Buffer.alloc(0);
}
