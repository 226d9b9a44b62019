// The agent.yaml the installer writes: commented for the operator who opens it
// next year, and validated with the agent's own schema before it is written.
import { AgentConfigSchema } from '../agent/index.js';
import { parseConfigText } from '../runtime/index.js';
import type { InstallAnswers } from './answers.js';
import type { InstallLayout } from './install-layout.js';
import { renderProposedPolicyFeed } from './proposed-policy.js';

/** How the agent reaches the relay, as decided by the installer. */
export type RelayCredentials =
  | { kind: 'mtls'; caFile: string; certFile: string; keyFile: string }
  | { kind: 'secret'; secretFile: string; caFile?: string };

export interface AgentConfigInput {
  answers: InstallAnswers;
  layout: InstallLayout;
  relay: RelayCredentials;
  /** The admin password hash file, when a dashboard password was given. */
  adminPasswordFile?: string;
  /** The admin API token file (the CLI on this host reads it through the launcher). */
  adminTokenFile?: string;
  /** Feeds sent without a policy: said in the file, next to them. */
  feedsWithoutPolicy?: readonly string[];
  /** The dashboard's HTTPS certificate and key; absent = plain HTTP. */
  httpTls?: { certFile: string; keyFile: string };
}

const q = (text: string): string => JSON.stringify(text);

export function renderAgentConfig(input: AgentConfigInput): string {
  const { answers, layout, relay } = input;
  const lines: string[] = [
    '# Wardline agent configuration — written by `wardline install`.',
    '# Re-running install keeps this file; edit it, then `systemctl restart wardline-agent`.',
    '# Every key is checked at start; a wrong one stops the agent with its path and this file named.',
    '',
    '# Who this hospital is at the relay (the id must match the relay\'s hospitals[].id and the client certificate).',
    `hospital: { id: ${q(answers.hospital.id)}, name: ${q(answers.hospital.name)} }`,
    '',
    '# The authoritative local copy: agent.db (journal, local copy, egress ledger). Back this directory up.',
    `dataDir: ${q(layout.dataDir)}`,
    '',
    '# The dashboard, status, metrics and ingest API.',
    'http:',
    `  listen: ${q(answers.http.listen)}`,
  ];
  if (input.httpTls) {
    lines.push(
      '  # HTTPS: the password, the session cookie and records do not cross the LAN in clear.',
      `  tls: { certFile: ${q(input.httpTls.certFile)}, keyFile: ${q(input.httpTls.keyFile)} }`,
    );
  } else lines.push('  # No TLS: the dashboard password and patient records cross the LAN in clear.');
  if (answers.http.hostNames.length > 0) {
    lines.push('  # Names browsers use (besides IP addresses and localhost); any other Host header is refused.', `  allowedHosts: [${answers.http.hostNames.map(q).join(', ')}]`);
  }
  if (input.adminPasswordFile || input.adminTokenFile) {
    const admin = [input.adminPasswordFile ? `passwordFile: ${q(input.adminPasswordFile)}` : '', input.adminTokenFile ? `tokenFile: ${q(input.adminTokenFile)}` : ''].filter(Boolean).join(', ');
    lines.push('  # The dashboard login (the scrypt hash of the admin password) and the admin token `wardline agent status` uses (both mode 0600).', `  admin: { ${admin} }`);
  }
  lines.push('', '# HL7 v2 over MLLP from the HIS/LIS/RIS.');
  if (answers.sources.length === 0) lines.push('sources: []');
  else {
    lines.push('sources:');
    for (const s of answers.sources) lines.push(`  - { kind: mllp, name: ${q(s.name)}, listen: ${q(s.listen)} }`);
  }
  lines.push('', '# The cloud relay. Nothing leaves except the feeds below.', 'relays:', `  - name: ${q(answers.relay.name)}`, `    address: ${q(answers.relay.address)}`);
  if (relay.kind === 'mtls') {
    lines.push(
      "    # Mutual TLS: the client certificate is this hospital's identity at the relay (no shared secret).",
      `    tls: { caFile: ${q(relay.caFile)}, certFile: ${q(relay.certFile)}, keyFile: ${q(relay.keyFile)} }`,
    );
  } else {
    lines.push("    # The hospital's shared secret (mode 0600).", `    secretFile: ${q(relay.secretFile)}`);
    if (relay.caFile) lines.push(`    tls: { caFile: ${q(relay.caFile)} }`);
    else lines.push('    # No TLS: local development only — patient data would cross the network in clear.', '    allowPlaintext: true');
  }
  lines.push('', '# Feeds: named projections of streams sent to the relay. A stream in no feed never leaves.');
  if (input.feedsWithoutPolicy && input.feedsWithoutPolicy.length > 0) {
    lines.push(`# WARNING: ${input.feedsWithoutPolicy.join(', ')} ha${input.feedsWithoutPolicy.length === 1 ? 's' : 've'} no policy: identifiers (MRN, names, phone numbers) leave in clear.`, '# Add policy: (README, "Policies"; `wardline install` proposes one) to hash, mask or drop them; the pseudonym keys below are made for it.');
  }
  lines.push('feeds:');
  for (const f of answers.feeds) {
    if (f.policy === 'proposed') lines.push(...renderProposedPolicyFeed(f, answers.relay.name));
    else lines.push(`  - { name: ${q(f.name)}, relay: ${q(answers.relay.name)}, streams: [${f.streams.map(q).join(', ')}] }`);
  }
  lines.push(
    '',
    "# The hospital-held pseudonym and encryption keys (`wardline keys list|rotate --config` this file).",
    `keys: { dir: ${q(layout.keysDir)} }`,
    '',
    `log: { level: ${answers.logLevel} }`,
    '',
  );
  return lines.join('\n');
}

/** Throws ConfigError naming the key if the rendered config would not start. */
export function validateAgentConfigText(text: string, file: string): void {
  parseConfigText(text, file, AgentConfigSchema);
}
