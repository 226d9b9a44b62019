// A feed's policy end to end on events: keys, HL7 and JSON bodies, the policy
// version, the identifier scan, the local-only check at start, and the config.
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, resolveAgentConfig } from '../../agent/config.js';
import {
  applyPolicy,
  compileFeedPolicies,
  compileFeedPolicy,
  decryptField,
  findLocalOnlyViolations,
  hl7KeyPathsByStream,
  IdentifierScan,
  PolicyKeyError,
  pseudonym,
  revealEvent,
  type FeedPolicyConfig,
  type HospitalKey,
} from '../../agent/policy/index.js';
import { Hl7Message } from '../../agent/hl7/index.js';
import { type JournalEvent } from '../../protocol/index.js';
import { ConfigError, parseConfigText } from '../../runtime/index.js';

const KEYS = { pseudonym: { id: 'p-1', secret: Buffer.alloc(32, 1) }, encryption: { id: 'e-1', secret: Buffer.alloc(32, 2) } } satisfies Record<string, HospitalKey>;
const lookup = (id: string) => (id === 'e-1' ? KEYS.encryption : undefined);

const policyOf = (policy: Partial<FeedPolicyConfig> & Pick<FeedPolicyConfig, 'streams'>, streams = ['adt', 'his.patient']) =>
  compileFeedPolicy({ name: 'f', streams, policy: { default: 'drop', key: 'hash', scan: false, ...policy } }, KEYS)!;

const ADT = 'MSH|^~\\&|HIS|H|WL|H|20240301||ADT^A08|C1|P|2.5\rPID|1||139030471^^^H^MR~11010519491231002X^^^CHN^NNCHN||张^伟明||19491231|M|||建国路88号^朝阳区^北京市^北京市^100020^CHN^H||13812345678^PRN^CP\rNTE|1|L|家属电话 139-1234-5678，已告知\r';
const ROW = { key: '139030471', mrn: '139030471', name: '张伟明', residentId: '11010519491231002X', mobile: '13812345678', address: '北京市朝阳区建国路88号', birthDate: '1949-12-31', contacts: [{ name: '李四', mobile: '13900000001' }], remark: '身份证 11010519491231002X' };

const event = (seq: number, stream: string, key: string, contentType: string, body: string): JournalEvent => ({
  seq,
  stream,
  key,
  op: 'upsert',
  tsMs: 1,
  source: 'test',
  contentType,
  body: Buffer.from(body, 'utf8'),
  headers: { controlId: `C${seq}` },
});

const STRICT = {
  adt: { fields: { 'PID-3.1': 'hash', 'PID-3[2]': 'drop', 'PID-5': 'mask', 'PID-7': 'generalize-year', 'PID-8': 'keep', 'PID-11': 'generalize', 'PID-13.1': 'encrypt', 'NTE-3': 'keep' } },
  'his.patient': { fields: { '$.mrn': 'hash', '$.name': 'mask', '$.residentId': 'mask', '$.mobile': 'encrypt', '$.address': 'generalize', '$.birthDate': 'generalize-year', '$.contacts[*].mobile': 'mask' } },
} satisfies FeedPolicyConfig['streams'];

describe('applyPolicy', () => {
  it('shapes HL7 events field by field and hashes the key like the field it came from', () => {
    const policy = policyOf({ streams: STRICT });
    const [out] = applyPolicy(policy, [event(1, 'adt', '139030471', 'hl7v2', ADT)]).events;
    expect(out!.key).toBe(pseudonym(KEYS.pseudonym, '139030471'));
    const m = Hl7Message.parse(out!.body.toString('utf8'));
    expect(m.get('PID-3.1')).toBe(out!.key);
    expect(m.getRaw('PID-3[2]')).toBe('');
    expect([m.get('PID-5.1'), m.get('PID-5.2')]).toEqual(['张', '**']);
    expect(m.get('PID-7')).toBe('1949');
    expect(m.get('PID-8')).toBe('M');
    expect(m.get('PID-11.1')).toBe('');
    expect(m.get('PID-11.3')).toBe('北京市');
    expect(decryptField(m.get('PID-13.1'), lookup)).toBe('13812345678');
    expect(m.get('PID-13.2')).toBe(''); // default drop
    expect(m.get('MSH-10')).toBe('C1'); // MSH is kept
    expect(out!.headers).toEqual({ controlId: 'C1' });
  });

  it('shapes JSON rows member by member, and the row\'s key member like the event key', () => {
    const policy = policyOf({ streams: STRICT });
    const [out] = applyPolicy(policy, [event(2, 'his.patient', ROW.key, 'json', JSON.stringify(ROW))]).events;
    const row = JSON.parse(out!.body.toString('utf8')) as Record<string, unknown>;
    expect(out!.key).toBe(pseudonym(KEYS.pseudonym, ROW.key));
    expect(row.key).toBe(out!.key);
    expect(row.mrn).toBe(out!.key);
    expect(row.name).toBe('张**');
    expect(row.residentId).toBe('110105********002X');
    expect(decryptField(row.mobile as string, lookup)).toBe(ROW.mobile);
    expect(row.address).toBe('北京市');
    expect(row.birthDate).toBe('1949');
    expect(row.contacts).toEqual([{ mobile: '139****0001' }]);
    expect('remark' in row).toBe(false); // no rule: the default drops it
  });

  it('leaves a row no rule changes as the very same bytes, and keeps the key when told to', () => {
    const policy = policyOf({ default: 'keep', key: 'keep', streams: {} });
    const input = event(3, 'his.patient', 'K1', 'json', '{"key":"K1",  "note":"x"}');
    expect(applyPolicy(policy, [input]).events[0]).toBe(input);
  });

  it('sends nothing of a body it cannot read, and counts it', () => {
    const policy = policyOf({ default: 'keep', streams: {} });
    const result = applyPolicy(policy, [event(4, 'adt', 'K', 'hl7v2', 'not hl7 at all 11010519491231002X'), event(5, 'his.patient', 'K', 'json', '{"broken":')]);
    expect(result.events.map((e) => e.body.length)).toEqual([0, 0]);
    expect(result.unreadableSeqs).toEqual([4, 5]);
  });

  it('puts encrypted values back for the restore side, HL7 escaping included', () => {
    const policy = policyOf({ default: 'keep', key: 'encrypt', streams: { adt: { fields: { 'PID-5': 'encrypt', 'NTE-3': 'encrypt' } }, 'his.patient': { fields: { $: 'encrypt' } } } });
    const tricky = ADT.replace('家属电话', 'A|B^C~D&E\\F\\');
    const input = [event(6, 'adt', '139030471', 'hl7v2', tricky), event(7, 'his.patient', ROW.key, 'json', JSON.stringify({ ...ROW, contacts: [] }))];
    const shaped = applyPolicy(policy, input).events;
    expect(shaped[0]!.body.toString('utf8')).not.toContain('张');
    const revealed = shaped.map((e) => revealEvent(e, lookup));
    expect(revealed[0]!.key).toBe('139030471');
    expect(Hl7Message.parse(revealed[0]!.body.toString('utf8')).get('NTE-3')).toBe(Hl7Message.parse(tricky).get('NTE-3'));
    expect(Hl7Message.parse(revealed[0]!.body.toString('utf8')).get('PID-5.2')).toBe('伟明');
    expect(JSON.parse(revealed[1]!.body.toString('utf8'))).toEqual({ ...ROW, contacts: [] });
  });
});

describe('policy version', () => {
  it('is stable for the same policy and keys, and changes with a rule, a default or a key', () => {
    const version = (streams: FeedPolicyConfig['streams'], keys = KEYS, fallback: 'keep' | 'drop' = 'drop') =>
      compileFeedPolicy({ name: 'f', streams: ['adt', 'his.patient'], policy: { default: fallback, key: 'hash', scan: false, streams } }, keys)!.version;
    const base = version(STRICT);
    expect(version(structuredClone(STRICT))).toBe(base);
    expect(base).toBeGreaterThan(0);
    expect(version({ ...STRICT, adt: { fields: { ...STRICT.adt.fields, 'PID-8': 'drop' } } })).not.toBe(base);
    expect(version(STRICT, KEYS, 'keep')).not.toBe(base);
    expect(version(STRICT, { ...KEYS, pseudonym: { id: 'p-2', secret: Buffer.alloc(32, 3) } })).not.toBe(base);
  });

  it('refuses to compile a policy that hashes or encrypts without the key, naming the feed and the field', () => {
    expect(() => compileFeedPolicy({ name: 'research', streams: ['adt'], policy: { default: 'drop', key: 'keep', scan: false, streams: { adt: { fields: { 'PID-13': 'encrypt' } } } } }, { pseudonym: KEYS.pseudonym })).toThrow(
      /"research" encrypts \(stream adt: PID-13\) but there is no active encryption key/,
    );
    expect(() => compileFeedPolicy({ name: 'research', streams: ['adt'], policy: { default: 'drop', key: 'hash', scan: false, streams: {} } }, {})).toThrow(PolicyKeyError);
  });

  it('turns a missing key into a config error at start, naming the feed, the code and the file', () => {
    const log = { info: () => {}, warn: () => {} };
    const feeds = [{ name: 'clinical', streams: ['adt'] }, { name: 'research', streams: ['adt'], policy: { default: 'drop' as const, key: 'hash' as const, scan: false, streams: {} } }];
    try {
      compileFeedPolicies({ file: 'agent.yaml', feeds }, log);
      expect.unreachable('a policy without its key was compiled');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        'feeds[1].policy: feed "research" hashes (stream adt: key) but there is no active pseudonym key: set keys.dir and run `wardline keys rotate --kind pseudonym --config` with this config file [WL_POLICY_KEY_MISSING] (agent.yaml)',
      ]);
    }
  });
});

describe('identifier scan', () => {
  it('counts identifiers in what leaves in clear, says where, never what, and counts a resent batch once', () => {
    const policy = policyOf({ scan: true, streams: STRICT });
    const events = [event(10, 'adt', '139030471', 'hl7v2', ADT), event(11, 'his.patient', ROW.key, 'json', JSON.stringify(ROW))];
    const result = applyPolicy(policy, events);
    // NTE-3 is kept and holds a mobile; $.remark is dropped; every identifier field is transformed.
    expect(result.findings).toEqual([{ kind: 'mobile', stream: 'adt', path: 'NTE-3', seq: 10 }]);
    const scan = new IdentifierScan(true);
    scan.record(result, 11, 1000);
    scan.record(result, 11, 2000); // the same batch resent
    const status = scan.status();
    expect(status.found).toEqual({ residentId: 0, mobile: 1 });
    expect(status.lastSeen).toEqual({ kind: 'mobile', stream: 'adt', path: 'NTE-3', seq: 10, atMs: 1000 });
    expect(JSON.stringify(status)).not.toMatch(/1391?-?1234/);
  });

  it('finds nothing when the policy does not scan', () => {
    expect(applyPolicy(policyOf({ streams: STRICT }), [event(1, 'adt', 'k', 'hl7v2', ADT)]).findings).toEqual([]);
  });
});

describe('local-only', () => {
  const keyPaths = hl7KeyPathsByStream([]);
  const check = (policy: FeedPolicyConfig | undefined, fields: Record<string, string[]>, streams = ['adt', 'his.patient'], localStreams: string[] = []) =>
    findLocalOnlyViolations({ feeds: [{ name: 'research', streams, ...(policy ? { policy } : {}) }], localOnly: { streams: localStreams, fields }, hl7KeyPaths: keyPaths });
  const strict = (streams: FeedPolicyConfig['streams'], extra: Partial<FeedPolicyConfig> = {}): FeedPolicyConfig => ({ default: 'drop', key: 'hash', scan: false, streams, ...extra });

  it('passes a feed that drops the field, explicitly or by default', () => {
    expect(check(strict({ adt: { fields: { 'PID-19': 'drop', 'PID-5': 'mask' } } }), { adt: ['PID-19'] })).toEqual([]);
    expect(check(strict({ adt: { fields: { 'PID-5': 'mask' } } }), { adt: ['PID-19'], 'his.patient': ['$.residentId'] })).toEqual([]);
    // PID-3[2] drop wins the tie with PID-3.1 hash for the resident ID.
    expect(check(strict({ adt: { fields: { 'PID-3[2]': 'drop', 'PID-3.1': 'hash' } } }), { adt: ['PID-3[2]'] })).toEqual([]);
  });

  it('refuses a feed that would send it, naming the feed, the field and the rule', () => {
    const [v] = check(strict({ adt: { fields: { 'PID-19': 'mask' } } }), { adt: ['PID-19'] });
    expect(v).toMatchObject({ configPath: 'feeds[0].policy.streams.adt.fields.PID-19', feed: 'research', field: 'PID-19' });
    expect(v!.message).toBe('feed "research" would send local-only field PID-19 of stream adt: rule PID-19 says mask; a local-only field must be dropped');
    // A broader keep with a narrower drop still lets other components out.
    expect(check(strict({ adt: { fields: { 'PID-3': 'keep', 'PID-3.1': 'drop' } } }), { adt: ['PID-3[2]'] })[0]!.message).toMatch(/rule PID-3 says keep/);
    expect(check(strict({ 'his.patient': { fields: { '$.ids[*]': 'keep', '$.ids[0].no': 'drop' } } }), { 'his.patient': ['$.ids[*].no'] })[0]!.message).toMatch(/rule \$\.ids\[\*\] says keep/);
    expect(check(strict({}, { default: 'keep' }), { adt: ['PID-19'] })[0]!.message).toMatch(/the policy's default is keep/);
    expect(check(undefined, { adt: ['PID-19'] })[0]).toMatchObject({ configPath: 'feeds[0]', message: expect.stringMatching(/has no policy/) });
  });

  it('refuses a local-only stream in a feed, and a key read from a local-only field unless it is hashed', () => {
    expect(check(undefined, {}, ['adt', 'his.patient'], ['his.patient'])[0]).toMatchObject({ configPath: 'feeds[0].streams[1]', message: 'feed "research" would send local-only stream his.patient; a local-only stream can be in no feed' });
    const keyLeak = check(strict({ adt: { key: 'keep', fields: { PID: 'drop' } } }), { adt: ['PID-3'] });
    expect(keyLeak).toHaveLength(1);
    expect(keyLeak[0]).toMatchObject({ configPath: 'feeds[0].policy.streams.adt.key', message: expect.stringMatching(/as the event key \(HL7 key path PID-3\.1; key: keep\)/) });
    expect(check(strict({ adt: { fields: { PID: 'drop' } } }), { adt: ['PID-3'] })).toEqual([]);
  });

  it('is enforced when the config is loaded, with the key path and the file in the message', () => {
    const yaml = `
hospital: { id: h }
dataDir: ./data
relays: [{ name: cloud, address: "127.0.0.1:7443", secret: s3cret, allowPlaintext: true }]
localOnly: { streams: [his.patient], fields: { adt: [PID-19] } }
feeds:
  - name: research
    relay: cloud
    streams: [adt]
    policy: { default: keep, streams: { adt: { fields: { PID-5: mask } } } }
`;
    try {
      resolveAgentConfig(parseConfigText(yaml, 'agent.yaml', AgentConfigSchema), 'agent.yaml');
      expect.unreachable('a feed sending a local-only field was accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        'feeds[0].policy.default: feed "research" would send local-only field PID-19 of stream adt: the policy\'s default is keep; a local-only field must be dropped (agent.yaml)',
      ]);
    }
  });
});

describe('policy config', () => {
  const parse = (policy: string) =>
    parseConfigText(`hospital: { id: h }\ndataDir: ./d\nrelays: [{ name: cloud, address: "x:1", secret: s, allowPlaintext: true }]\nfeeds:\n  - name: f\n    relay: cloud\n    streams: [adt]\n    policy: ${policy}\n`, 'agent.yaml', AgentConfigSchema);
  const problems = (policy: string): string[] => {
    try {
      parse(policy);
    } catch (error) {
      return (error as ConfigError).problems;
    }
    throw new Error('expected the config to be refused');
  };

  it('fills the defaults: unlisted fields dropped, keys hashed, no scan', () => {
    expect(parse('{ streams: { adt: { fields: { "PID-5": mask } } } }').feeds[0]!.policy).toEqual({ default: 'drop', key: 'hash', scan: false, streams: { adt: { fields: { 'PID-5': 'mask' } } } });
  });

  it('names the key of a bad path, a bad action and a stream the feed does not carry', () => {
    expect(problems('{ streams: { adt: { fields: { "PID.5": mask } } } }')[0]).toMatch(/^feeds\[0\]\.policy\.streams\.adt\.fields\.PID\.5: "PID\.5" is not an HL7 path/);
    expect(problems('{ streams: { adt: { fields: { "PID-5": scramble } } } }')[0]).toMatch(/^feeds\[0\]\.policy\.streams\.adt\.fields\.PID-5: .*"keep".*got "scramble" \(agent\.yaml\)$/);
    expect(problems('{ streams: { adtt: { fields: {} } } }')[0]).toMatch(/^feeds\[0\]\.policy\.streams\.adtt: expected one of the feed's streams \(adt\)/);
    expect(problems('{ streams: { adt: { fields: { "MSH-2": drop } } } }')[0]).toMatch(/delimiters/);
    expect(problems('{ streams: { adt: { fields: { "name": drop } } } }')[0]).toMatch(/neither an HL7 path .* nor a JSON path/);
  });
});
