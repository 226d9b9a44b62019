// The policy the installer proposes for a feed of HL7 streams: the patient's
// identifiers leave as pseudonyms under the hospital's pseudonym key (the one the
// installer creates), names and phone numbers masked, the birth date as its year,
// the address as province and city; everything else (orders, results, visits) kept.
// Written into agent.yaml as README "Policies" describes, for the operator to edit.

/** HL7 path → action, with why; the order they are written in agent.yaml. */
export const PROPOSED_HL7_FIELDS: readonly (readonly [path: string, action: string, why: string])[] = [
  ['PID-2', 'hash', 'patient id (older HL7)'],
  ['PID-3', 'hash', 'MRN and other identifiers → the same pseudonym as the event key'],
  ['PID-4', 'hash', 'alternate patient id'],
  ['PID-5', 'mask', 'name: 张^**'],
  ['PID-6', 'drop', "mother's maiden name"],
  ['PID-7', 'generalize-year', 'birth date: 1985'],
  ['PID-9', 'drop', 'patient alias'],
  ['PID-11', 'generalize', 'address: province and city'],
  ['PID-13', 'mask', 'home phone: 138****1234'],
  ['PID-14', 'mask', 'business phone'],
  ['PID-18', 'hash', 'account number'],
  ['PID-19', 'mask', 'national id: 110105********002X'],
  ['PID-20', 'drop', "driver's licence"],
  ['NK1', 'drop', 'next of kin: names, addresses, phones'],
];

/** The YAML lines of a feed item with the proposed policy for its streams (indented for `feeds:`). */
export function renderProposedPolicyFeed(feed: { name: string; streams: readonly string[] }, relayName: string): string[] {
  const q = (text: string): string => JSON.stringify(text);
  const lines = [
    `  - name: ${q(feed.name)}`,
    `    relay: ${q(relayName)}`,
    `    streams: [${feed.streams.map(q).join(', ')}]`,
    '    # Proposed by `wardline install`: identifiers hashed or masked, the rest of each message kept.',
    '    policy:',
    '      default: keep   # fields no rule names leave as sent',
    '      key: hash       # event keys (the MRN) → pseudonyms under the key in keys.dir',
    '      scan: true      # count identifiers still leaving in clear (dashboard, status)',
    '      streams:',
  ];
  for (const stream of feed.streams) {
    lines.push(`        ${q(stream)}:`, '          fields:');
    for (const [path, action, why] of PROPOSED_HL7_FIELDS) lines.push(`            ${path}: ${action}${' '.repeat(Math.max(1, 18 - path.length - action.length))}# ${why}`);
  }
  return lines;
}
