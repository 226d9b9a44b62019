// The policy `wardline install` proposes for HL7 feeds: the agent.yaml it writes
// loads with the agent's own config loader, compiles with the real policy
// compiler against the pseudonym key the installer creates, and an ADT message
// through it leaves with the MRN hashed, the name masked and the birth date as a year.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/index.js';
import { applyPolicy, compileFeedPolicies, isPseudonym, rotateKey } from '../../agent/policy/index.js';
import { InstallAnswersSchema, installLayout, PROPOSED_HL7_FIELDS, renderAgentConfig } from '../../installer/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const temp = makeTempDir('wardline-proposed-policy-');
afterAll(() => temp.remove());

const ADT =
  'MSH|^~\\&|HIS|H1|WARDLINE|H1|20260101120000||ADT^A01|MSG1|P|2.5\r' +
  'PID|1||MRN12345^^^H1^MR~110105198501010023^^^CHN^NNCHN||张^三丰||19850101|M|||文三路1号^^杭州市^浙江省^^CHN^H||13812341234|||||ACCT77|110105198501010023\r' +
  'NK1|1|李^四|SPO|||13900001111\r' +
  'PV1|1|I|W1^101^1\r' +
  'OBX|1|NM|GLU^Glucose||5.6|mmol/L\r';

function configFor(policy: 'proposed' | 'none'): string {
  const root = join(temp.path, policy);
  const layout = installLayout(root);
  rotateKey({ dir: layout.keysDir, kind: 'pseudonym', retainRetiredMs: 86_400_000 });
  rotateKey({ dir: layout.keysDir, kind: 'encryption', retainRetiredMs: 86_400_000 });
  const secretFile = join(root, 'relay.secret');
  writeFileSync(secretFile, 'relay-shared-secret-0001\n', { mode: 0o600 });
  const answers = InstallAnswersSchema.parse({
    hospital: { id: 'h1' },
    relay: { address: '127.0.0.1:7443', secretFile, allowPlaintext: true },
    http: { listen: '127.0.0.1:8480', tls: 'off' },
    feeds: [{ name: 'clinical', streams: ['adt', 'results', 'orders'], policy }],
  });
  const file = join(layout.configDir, 'agent.yaml');
  writeFileSync(file, renderAgentConfig({ answers, layout, relay: { kind: 'secret', secretFile }, ...(policy === 'none' ? { feedsWithoutPolicy: ['clinical'] } : {}) }));
  return file;
}

describe('the installer\'s proposed policy', () => {
  it('loads, compiles with the installed pseudonym key and hashes or masks the patient identifiers of an ADT', () => {
    const file = configFor('proposed');
    const config = loadAgentConfig(file);
    const warnings: string[] = [];
    const policies = compileFeedPolicies({ file, feeds: config.feeds, ...(config.keys ? { keys: config.keys } : {}) }, { info: () => {}, warn: (_f, m) => warnings.push(m) });
    const policy = policies.get('clinical');
    expect(policy, warnings.join('; ')).toBeDefined();
    expect([...policy!.streams.keys()].sort()).toEqual(['adt', 'orders', 'results']);
    expect(policy!.keys.pseudonym).toBeDefined();

    const event = { seq: 1, stream: 'adt', key: 'MRN12345', op: 'upsert', tsMs: 0, source: 'lis', contentType: 'hl7v2', body: Buffer.from(ADT), headers: {} } as Parameters<typeof applyPolicy>[1][number];
    const [shaped] = applyPolicy(policy!, [event]).events;
    const segments = shaped!.body.toString('utf8').split('\r');
    const pid = segments.find((s) => s.startsWith('PID|'))!.split('|');
    expect(pid[3]).not.toContain('MRN12345');
    expect(pid[3]).not.toContain('110105198501010023');
    expect(isPseudonym(pid[3]!.split('^')[0]!)).toBe(true);
    expect(pid[5]).not.toContain('三丰');
    expect(pid[5]).toMatch(/^张/);
    expect(pid[7]).toBe('1985');
    expect(pid[11]).not.toContain('文三路');
    expect(pid[13]).toBe('138****1234');
    expect(pid[19]).toBe('110105********0023');
    expect(segments.some((s) => s.startsWith('NK1|'))).toBe(false);
    // The clinical content is kept as sent.
    expect(segments).toContain('OBX|1|NM|GLU^Glucose||5.6|mmol/L');
    expect(segments).toContain('PV1|1|I|W1^101^1');
    // The event key is the same pseudonym as PID-3.1.
    expect(shaped!.key).toBe(pid[3]!.split('^')[0]);
    expect(PROPOSED_HL7_FIELDS.map(([path]) => path)).toEqual(expect.arrayContaining(['PID-3', 'PID-5', 'PID-7', 'PID-13', 'PID-19']));
  });

  it('"none" writes the feed without a policy and says so in the file', () => {
    const file = configFor('none');
    const config = loadAgentConfig(file);
    const policies = compileFeedPolicies({ file, feeds: config.feeds, ...(config.keys ? { keys: config.keys } : {}) }, { info: () => {}, warn: () => {} });
    expect(policies.get('clinical')).toBeUndefined();
  });
});
