#!/usr/bin/env node
// The `wardline` command. Parses arguments (commander) and hands typed options to
// the composition roots; every long-running command stops cleanly on SIGTERM/SIGINT.
import { Command, InvalidArgumentError } from 'commander';
import { startAgent } from '../agent/index.js';
import { startRelay } from '../cloud-relay/index.js';
import { WARDLINE_VERSION, DEFAULT_AGENT_HTTP_PORT, DEFAULT_RELAY_GRPC_PORT } from '../protocol/index.js';
import { AGENT_URL_ENV, defaultAgentUrl } from './agent-url.js';
import { ConfigError } from '../runtime/index.js';
import { agentFeedCommand, type FeedAction } from './agent-feed-command.js';
import { agentInboundAction, agentInboundList, type InboundAction } from './agent-inbound.js';
import { agentPurgeCommand } from './agent-purge-command.js';
import { relayPurgeCommand } from './relay-purge-command.js';
import { agentReconnectCommand } from './agent-reconnect-command.js';
import { agentRestoreCommand, type AgentRestoreCommandOptions } from './agent-restore-command.js';
import { agentHashPasswordCommand } from './agent-hash-password-command.js';
import { auditExportCommand } from './audit-export-command.js';
import { auditVerifyCommand } from './audit-verify-command.js';
import { agentStatusCommand } from './agent-status-command.js';
import { demoCommand, type DemoOptions } from './demo-command.js';
import { feedTailCommand } from './feed-tail-command.js';
import { parseTailFlags, TailFlagError } from './tail-flags.js';
import { certCaCommand, certClientCommand, certServerCommand } from './cert-command.js';
import { keysListCommand, keysRotateCommand } from './keys-command.js';
import { keysDestroyCommand } from './keys-destroy-command.js';
import { recordKeyRotation } from './key-rotation-record.js';
import { runUntilSignal } from './run-until-signal.js';
import { CLOSED_PIPE_EXIT_CODE, exitQuietlyOnClosedPipe } from './closed-pipe.js';
import { installCommand } from './install-command.js';
import { uninstallCommand } from './uninstall-command.js';
import { agentCheckConfigCommand } from './agent-check-config-command.js';
import { relayEnrolTokenCommand } from './relay-enrol-token-command.js';
import { exportVerifyCommand } from './export-verify-command.js';
import { relayExportCommand } from './relay-export-command.js';
import { relayMigrateStoreCommand } from './relay-migrate-store-command.js';
import { agentExportCommand } from './agent-export-command.js';

exitQuietlyOnClosedPipe();

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, got "${value}"`);
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

/** The stable code (`WL_…`) of an AgentError, RelayError or ConfigError; undefined for anything else. */
function stableCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('WL_') ? code : undefined;
}

/**
 * Runs a command body. An error with a stable code prints `wardline: [CODE] message`
 * without a stack (the message names what to fix) and exits 78 (EX_CONFIG) for a bad
 * config, 1 otherwise; a refused argument prints its message and exits 1. Anything
 * else is a bug: its stack is printed, for the report.
 */
async function run(body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body();
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    // A file a command writes that is a pipe (--out /dev/stdout) whose reader went: as for stdout.
    if ((error as NodeJS.ErrnoException | null)?.code === 'EPIPE') process.exit(CLOSED_PIPE_EXIT_CODE);
    const code = stableCode(error);
    if (code !== undefined) {
      process.stderr.write(`wardline: [${code}] ${(error as Error).message}\n`);
      process.exitCode = error instanceof ConfigError ? 78 : 1;
      return;
    }
    if (error instanceof InvalidArgumentError) {
      process.stderr.write(`wardline: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`wardline: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}

const program = new Command('wardline')
  .description('On-premises sync gateway for hospitals: local-first, line-tolerant, policy-driven replication.')
  .version(WARDLINE_VERSION);

const agent = program.command('agent').description('the on-premises agent');
agent
  .command('start')
  .description('run the agent (sources, local store, replication, dashboard)')
  .requiredOption('-c, --config <file>', 'agent YAML config')
  .action((options: { config: string }) =>
    run(async () => {
      const running = await startAgent(options.config);
      process.stderr.write(`wardline agent running: dashboard http://127.0.0.1:${running.httpPort}/\n`);
      await runUntilSignal(() => running.stop());
    }),
  );
agent
  .command('check-config')
  .description('check the config as `agent start` would (keys, secret files, certificates) and start nothing; exit 78 naming key, value and file when it is wrong')
  .requiredOption('-c, --config <file>', 'agent YAML config')
  .action((options: { config: string }) => run(() => agentCheckConfigCommand(options)));
agent
  .command('restore')
  .description("rebuild a lost agent's data directory from the relay's export of its backup feed (backup: true), with the hospital's keys.dir; refuses a data dir in use, a tampered export, wrong keys")
  .requiredOption('-c, --config <file>', 'agent YAML config (dataDir, keys.dir and the backup feed)')
  .option('--from <dir>', 'an export directory (wardline relay export)')
  .option('--from-relay', "fetch the export over the backup feed's relay link")
  .option('--pubkey <file>', "the relay's public key (minisign format) from a source you trust; default the export's relay-signing.pub")
  .option('--force', 'replace an agent.db already in dataDir')
  .option('--json', 'print the summary as JSON')
  .action((options: AgentRestoreCommandOptions) => run(() => agentRestoreCommand(options)));
agent
  .command('status')
  .description("print the agent's links, feeds, sources and alerts; exit 1 if a link is down or a feed lags past its threshold, 2 if the agent is unreachable")
  .option('--url <url>', `agent HTTP address (or set ${AGENT_URL_ENV})`, defaultAgentUrl())
  .option('--json', 'print the status JSON (with a "check" member: ok and problems)')
  .option('--token <token>', 'the http.admin token, when the agent requires a login (or set WARDLINE_ADMIN_TOKEN)')
  .action((options: { url: string; json?: boolean; token?: string }) => run(() => agentStatusCommand(options)));
agent
  .command('reconnect')
  .description('make the agent drop its relay streams and backoff waits and connect again now; exit 2 if the agent is unreachable')
  .option('--url <url>', `agent HTTP address (or set ${AGENT_URL_ENV})`, defaultAgentUrl())
  .option('--token <token>', 'the http.admin token, when the agent requires a login (or set WARDLINE_ADMIN_TOKEN)')
  .action((options: { url: string; token?: string }) => run(() => agentReconnectCommand(options)));
agent
  .command('hash-password')
  .description('read the dashboard password from standard input (or the terminal, unechoed) and print its scrypt hash for http.admin.passwordHash or passwordFile')
  .action(() => run(() => agentHashPasswordCommand()));
agent
  .command('export')
  .description("fetch the hospital's signed export from the relay (Export RPC, with the replication link's credentials) and verify it; the relay operator need not help")
  .requiredOption('-c, --config <file>', 'agent YAML config')
  .requiredOption('--out <dir>', 'where to write the export: a new or empty directory')
  .option('--feed <name>', 'a feed to export (repeat for several; default every feed the relay holds of the hospital)', (value: string, previous: string[] = []) => [...previous, value])
  .option('--relay <name>', 'the relay (relays[].name) when the config has several')
  .option('--pubkey <file>', "the relay's public key (minisign format) from its operator, to prove the export's origin")
  .action((options: { config: string; out: string; feed?: string[]; relay?: string; pubkey?: string }) => run(() => agentExportCommand(options)));
const FEED_ACTIONS: [FeedAction, string][] = [
  ['pause', 'stop all egress of a feed at once (ingest and other feeds go on); returns once nothing more of it leaves'],
  ['resume', 'let a paused feed send again, from where it stopped'],
  ['revoke', 'stop a feed and have the relay delete its data and stop serving it; the relay\'s answer goes into the egress ledger'],
  ['reenable', 'let a revoked feed be stored and served again (its deleted data stays deleted)'],
];
for (const [action, description] of FEED_ACTIONS) {
  agent
    .command(action)
    .description(`${description}; exit 1 while the relay has not answered, 2 if the agent is unreachable or refused`)
    .requiredOption('--feed <name>', 'feed name')
    .option('--reason <text>', 'why, for the egress ledger')
    .option('--url <url>', `agent HTTP address (or set ${AGENT_URL_ENV})`, defaultAgentUrl())
    .option('--json', 'print the result as JSON')
    .option('--token <token>', 'the http.admin token, when the agent requires a login (or set WARDLINE_ADMIN_TOKEN)')
    .action((options: { feed: string; reason?: string; url: string; json?: boolean; token?: string }) => run(() => agentFeedCommand(action, options)));
}

// --- Inbound channels (the downlink) ---
const inbound = agent.command('inbound').description("inbound channels: events vendors write at the relay, delivered into the hospital's systems");
inbound
  .command('list')
  .description('print each inbound channel (counts, sink state, what waits at the relay, its problem) and the quarantined events; exit 2 if the agent is unreachable')
  .option('--url <url>', `agent HTTP address (or set ${AGENT_URL_ENV})`, defaultAgentUrl())
  .option('--json', 'print the list as JSON')
  .option('--token <token>', 'the http.admin token, when the agent requires a login (or set WARDLINE_ADMIN_TOKEN)')
  .action((options: { url: string; json?: boolean; token?: string }) => run(() => agentInboundList(options)));
const INBOUND_ACTIONS: [InboundAction, string, string][] = [
  ['pause', '--channel <name>', "stop delivering a channel into the hospital's system (events are still journaled, and wait)"],
  ['resume', '--channel <name>', 'deliver a paused channel again'],
  ['replay', '--id <id>', 'deliver a quarantined event again, after its cause is fixed (config or hospital system)'],
  ['refuse', '--id <id>', 'end a quarantined event with a final refused receipt to the vendor; --reason is required'],
];
for (const [action, subject, description] of INBOUND_ACTIONS) {
  const command = inbound
    .command(action)
    .description(`${description}; recorded in the egress ledger; exit 2 if the agent is unreachable or refused`)
    .requiredOption(subject, subject.startsWith('--id') ? 'inbound event id (ib…)' : 'inbound channel')
    .option('--operator <name>', 'who acts, for the egress ledger (default this login name)')
    .option('--url <url>', `agent HTTP address (or set ${AGENT_URL_ENV})`, defaultAgentUrl())
    .option('--json', 'print the answer as JSON')
    .option('--token <token>', 'the http.admin token, when the agent requires a login (or set WARDLINE_ADMIN_TOKEN)');
  if (action === 'refuse') command.requiredOption('--reason <text>', 'why, sent to the vendor with the receipt');
  else command.option('--reason <text>', 'why, for the egress ledger');
  command.action((options: { channel?: string; id?: string; reason?: string; operator?: string; url: string; json?: boolean; token?: string }) =>
    run(() => agentInboundAction(action, { ...options, subject: options.channel ?? options.id ?? '' })),
  );
}

// --- Purge ---
agent
  .command('purge')
  .description("have the relay delete a feed for good (events, imaging chunks, positions, proofs; erased from its files) and answer with a receipt signed by its key; the feed stops here for good and the receipt goes into the egress ledger; exit 1 while the relay has not answered, 2 if refused")
  .requiredOption('--feed <name>', 'feed name')
  .option('--reason <text>', 'why, for the egress ledger and the receipt')
  .option('--yes', 'do not ask for confirmation (needed without a terminal)')
  .option('--receipt-out <file>', 'also write the receipt to <file> and its signature to <file>.minisig')
  .option('--url <url>', `agent HTTP address (or set ${AGENT_URL_ENV})`, defaultAgentUrl())
  .option('--json', 'print the result as JSON')
  .option('--token <token>', 'the http.admin token, when the agent requires a login (or set WARDLINE_ADMIN_TOKEN)')
  .action((options: { feed: string; reason?: string; yes?: boolean; receiptOut?: string; url: string; json?: boolean; token?: string }) => run(() => agentPurgeCommand(options)));

const audit = program.command('audit').description("the agent's egress ledger: every batch that left, and every pause, revoke, policy change and key rotation");
audit
  .command('verify')
  .description('walk the hash chain and name every modified, deleted or reordered record; exit 1 if any, 2 if unreadable')
  .option('-c, --config <file>', "agent YAML config (the ledger is in its dataDir's agent.db)")
  .option('--db <file>', 'agent.db itself, instead of --config')
  .option('--file <export>', 'verify an export (JSON lines) instead of the database')
  .option('--partial', 'the export was made with --from/--to: verify from its first record')
  .option('--relay-http <url>', "also compare the ledger heads the relay received (its HTTP address): finds a cut-off tail")
  .option('--hospital <id>', 'hospital id for --relay-http when no --config is given')
  .option('--relay-token-file <file>', "a file holding the relay's operator token (its /v1/status needs it)")
  .option('--ca <file>', "PEM CA that issued the relay's HTTPS certificate (default: the system's trusted CAs)")
  .option('--json', 'print the verification as JSON')
  .action((options: { config?: string; db?: string; file?: string; partial?: boolean; relayHttp?: string; relayTokenFile?: string; hospital?: string; ca?: string; json?: boolean }) =>
    run(() => auditVerifyCommand(options)),
  );
audit
  .command('export')
  .description('write the ledger for auditors as JSON lines, with every hash, so they can re-verify it')
  .requiredOption('--out <file>', 'where to write')
  .option('-c, --config <file>', "agent YAML config (the ledger is in its dataDir's agent.db)")
  .option('--db <file>', 'agent.db itself, instead of --config')
  .option('--from <index|time>', 'first record: an index, or an ISO 8601 date or time')
  .option('--to <index|time>', 'last record: an index, or an ISO 8601 date or time')
  .action((options: { out: string; config?: string; db?: string; from?: string; to?: string }) => run(() => auditExportCommand(options)));

const relay = program.command('relay').description('the cloud relay');
relay
  .command('start')
  .description('run the relay (agent ingest, vendor feeds, status)')
  .requiredOption('-c, --config <file>', 'relay YAML config')
  .action((options: { config: string }) =>
    run(async () => {
      const running = await startRelay(options.config);
      const transport = running.config.tls ? (running.config.tls.clientCaFile ? 'TLS, mutual TLS for agents' : 'TLS') : 'plaintext (allowPlaintext)';
      process.stderr.write(`wardline relay running: gRPC port ${running.grpcPort}, HTTP${running.config.tls ? 'S' : ''} port ${running.httpPort}, ${transport}\n`);
      await runUntilSignal(() => running.stop());
    }),
  );

relay
  .command('enrol-token')
  .description('issue a one-time enrolment token for a hospital (stored hashed in the relay database); `wardline install` redeems it for a client certificate')
  .requiredOption('-c, --config <file>', 'relay YAML config')
  .requiredOption('--hospital <id>', "the hospital id (the relay's hospitals[].id)")
  .option('--ttl <duration>', 'how long the token is valid (default 24h)')
  .option('--json', 'print the token, hospital and expiry as JSON')
  .action((options: { config: string; hospital: string; ttl?: string; json?: boolean }) => run(() => relayEnrolTokenCommand(options)));
relay
  .command('migrate-store')
  .description("copy a stopped relay's relay.db and chunk files into an empty PostgreSQL database and print both digests (rows and SHA-256 per table); exit 0 when they match, 1 when they differ, 2 when refused (relay running, target not empty)")
  .requiredOption('-c, --config <file>', 'relay YAML config (its dataDir holds relay.db)')
  .requiredOption('--from <kind>', 'the store to copy: sqlite')
  .requiredOption('--to <kind>', 'the store to fill: postgres')
  .option('--url <url>', "the PostgreSQL database (postgres://user@host:5432/db); default the config's store.url or store.urlFile")
  .option('--url-file <file>', 'a file holding the URL (when it holds a password)')
  .option('--batch-rows <n>', 'rows per INSERT (default 500)', (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError(`--batch-rows: expected 1 to 10000, got "${value}"`);
    return n;
  })
  .action((options: { config: string; from: string; to: string; url?: string; urlFile?: string; batchRows?: number }) => run(() => relayMigrateStoreCommand(options)));
relay
  .command('export')
  .description("write a hospital's signed export (NDJSON per feed, blob chunks, SHA256SUMS, manifest signed with the relay key), also while the relay runs")
  .requiredOption('-c, --config <file>', 'relay YAML config')
  .requiredOption('--hospital <id>', "the hospital id (the relay's hospitals[].id)")
  .option('--feed <name>', 'a feed to export (repeat for several; default every feed the relay holds of the hospital)', (value: string, previous: string[] = []) => [...previous, value])
  .requiredOption('--out <dir>', 'where to write the export: a new or empty directory')
  .action((options: { config: string; hospital: string; feed?: string[]; out: string }) => run(() => relayExportCommand(options)));

// The exit: a relay's signed export, checked offline.
const exportCommand = program.command('export').description("a relay's signed export of a hospital's data (wardline relay export, wardline agent export)");
exportCommand
  .command('verify <dir>')
  .description('recompute everything an export claims, offline: the manifest signature, every file\'s SHA-256, every line\'s body hash, each feed\'s Merkle root; exit 1 naming the first file that fails')
  .option('--pubkey <file>', "the relay's public key (minisign format) from its operator; without it the export's own relay-signing.pub is used, which proves integrity, not origin")
  .option('--json', 'print the result as JSON')
  .action((dir: string, options: { pubkey?: string; json?: boolean }) => run(() => exportVerifyCommand(dir, options)));

// --- Purge ---
relay
  .command('purge')
  .description("contract end: have the running relay delete every feed of a hospital (or one, --feed) and erase it from its files; writes the relay's signed receipt; exit 2 if refused or the relay is not running")
  .requiredOption('-c, --config <file>', 'relay YAML config')
  .requiredOption('--hospital <id>', 'the hospital id')
  .option('--feed <name>', 'only this feed')
  .option('--reason <text>', 'why, for the receipt (default "contract end")')
  .option('--yes', 'do not ask for confirmation (needed without a terminal)')
  .option('--receipt-out <file>', 'where to write the receipt (and <file>.minisig); default purge-receipt-<hospital>[-<feed>].json')
  .option('--url <url>', "the running relay's HTTP address (default from http.listen)")
  .option('--token-file <file>', 'a file holding the operator token (default http.operatorTokenFile)')
  .option('--ca <file>', "PEM CA that issued the relay's HTTPS certificate")
  .action((options: { config: string; hospital: string; feed?: string; reason?: string; yes?: boolean; receiptOut?: string; url?: string; tokenFile?: string; ca?: string }) => run(() => relayPurgeCommand(options)));

program
  .command('install')
  .description('install the agent as a hardened systemd service: preflight checks, service user, /etc/wardline, /var/lib/wardline, secrets, enrolment, unit')
  .option('--root <dir>', 'install under this prefix (tests, image builds); / is the real system', '/')
  .option('--non-interactive', 'take every answer from --answers', false)
  .option('--answers <file>', 'answers YAML (hospital, relay, sources, feeds, volume)')
  .option('--dry-run', 'print the preflight table and the plan; write nothing', false)
  .option('--force', 'install even when a preflight check fails', false)
  .option('--skip-relay-check', 'do not try to reach the relay during preflight', false)
  .option('--no-systemctl', 'write the unit but run no systemctl (no systemd here: a container, an image build)')
  .action((options: { root: string; nonInteractive: boolean; answers?: string; dryRun: boolean; force: boolean; skipRelayCheck: boolean; systemctl: boolean }) => run(() => installCommand(options)));
program
  .command('uninstall')
  .description('remove the service and the program; keep config, keys, data and the egress ledger unless --purge')
  .option('--root <dir>', 'the prefix install used', '/')
  .option('--purge', 'also delete config, secrets, keys, data and the egress ledger', false)
  .option('--dry-run', 'say what would be removed; remove nothing', false)
  .option('--no-systemctl', 'run no systemctl (no systemd here)')
  .action((options: { root: string; purge: boolean; dryRun: boolean; systemctl: boolean }) => run(() => uninstallCommand(options)));

const keys = program.command('keys').description("the hospital-held pseudonym and encryption keys (keys.dir in agent.yaml)");
keys
  .command('rotate')
  .description('make a new active key of one kind and retire the old one (kept for decrypting for keys.retainRetired); takes effect at the next agent start')
  .requiredOption('--kind <kind>', 'pseudonym or encryption')
  .requiredOption('-c, --config <file>', 'agent YAML config')
  .option('--json', 'print the rotation as JSON')
  .action((options: { kind: string; config: string; json?: boolean }) => run(async () => recordKeyRotation(options.config, keysRotateCommand(options))));
keys
  .command('list')
  .description('list the keys in keys.dir: active and retired, and how long retired ones are kept')
  .requiredOption('-c, --config <file>', 'agent YAML config')
  .option('--json', 'print JSON')
  .action((options: { config: string; json?: boolean }) => run(async () => keysListCommand(options)));

// --- Purge: crypto-shredding ---
keys
  .command('destroy')
  .description('crypto-shredding: destroy the encryption (or pseudonym) keys, so every copy of what was encrypted under them — a backup feed anywhere — becomes unreadable for good; asks for confirmation; recorded in the egress ledger')
  .requiredOption('--kind <kind>', 'encryption or pseudonym')
  .option('--key <id>', 'only this key (default: every key of the kind)')
  .requiredOption('-c, --config <file>', 'agent YAML config')
  .option('--yes', 'do not ask for confirmation (needed without a terminal)')
  .action((options: { kind: string; key?: string; config: string; yes?: boolean }) => run(() => keysDestroyCommand(options)));

const feed = program.command('feed').description('vendor side: read replicated feeds');
feed
  .command('tail')
  .description('print a feed from a cursor as NDJSON (the reference vendor consumer)')
  .requiredOption('--feed <name>', 'feed name')
  .requiredOption('--key <key>', 'vendor API key (or set WARDLINE_VENDOR_KEY)', process.env.WARDLINE_VENDOR_KEY)
  .option('--relay <host:port>', 'relay gRPC address', `127.0.0.1:${DEFAULT_RELAY_GRPC_PORT}`)
  .option('--after <seq>', 'cursor: the last seq already processed (default 0, or the consumer\'s committed cursor)')
  .option('--after-time <iso>', 'start at the first event at or after this ISO 8601 time (not with --after)')
  .option('-f, --follow', 'keep streaming new events', false)
  .option('--no-reconnect', 'with --follow: exit when the relay goes away instead of reconnecting')
  .option('--consumer <name>', 'a named consumer: without --after, resume from its committed cursor')
  .option('--commit', 'commit the cursor for --consumer at exit and every 1000 events', false)
  .option('--streams <a,b>', 'only these streams')
  .option('--types <t1,t2>', 'only these HL7 message types (e.g. ADT^A01,ORU)')
  .option('--hospital <id>', 'hospital id, when the key reads the same feed at several hospitals')
  .option('--format <format>', 'ndjson or text', 'ndjson')
  .option('-v, --verbose', 'text format: also print heartbeats ("idle, caught up at N")', false)
  .option('--limit <n>', 'stop after n events', nonNegativeInteger)
  .option('--ca <file>', "PEM CA that issued the relay's certificate (default: the system's trusted CAs)")
  .option('--client-cert <file>', 'PEM client certificate, for a relay that requires client certificates on gRPC')
  .option('--client-key <file>', 'PEM private key of --client-cert')
  .option('--server-name <name>', "the name on the relay's certificate, when --relay dials another (an IP address)")
  .option('--plaintext', 'connect without TLS, to a relay with allowPlaintext (local development only)', false)
  .action(
    (options: {
      feed: string; key: string; relay: string; after?: string; afterTime?: string; follow: boolean; reconnect: boolean; consumer?: string; commit: boolean;
      streams?: string; types?: string; hospital?: string; format: string; verbose: boolean; limit?: number; ca?: string; clientCert?: string; clientKey?: string; serverName?: string; plaintext: boolean;
    }) =>
      run(async () => {
        let flags;
        try {
          flags = parseTailFlags(options);
        } catch (error) {
          if (!(error instanceof TailFlagError)) throw error;
          process.stderr.write(`wardline feed tail: ${error.message}\n`);
          return 2;
        }
        const abort = new AbortController();
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => abort.abort());
        const { after: _after, afterTime: _afterTime, streams: _streams, types: _types, format: _format, ...rest } = options;
        return feedTailCommand({ ...rest, ...flags }, abort.signal);
      }),
  );

const cert = program
  .command('cert')
  .description('development certificates for TLS and mutual TLS, made with the openssl command: a CA, the relay\'s server certificate, one client certificate per hospital');
const collect = (value: string, previous: string[]): string[] => [...previous, value];
const positiveInteger = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got "${value}"`);
  return n;
};
cert
  .command('ca')
  .description('create a development CA (ca.crt, and ca.key with mode 0600) in --out')
  .requiredOption('--out <dir>', 'directory for ca.crt and ca.key')
  .option('--name <common name>', 'the CA\'s name', 'Wardline development CA')
  .option('--days <n>', 'validity in days (default 3650)', positiveInteger)
  .option('--force', 'replace an existing CA (every certificate it issued stops being trusted)', false)
  .option('--openssl <path>', 'the openssl command', 'openssl')
  .action((options: { out: string; name: string; days?: number; force: boolean; openssl: string }) => run(() => certCaCommand(options)));
cert
  .command('server')
  .description("issue the relay's server certificate (server.crt, server.key 0600, ca.crt) for the names clients dial")
  .requiredOption('--ca <dir>', 'the CA directory (from wardline cert ca)')
  .requiredOption('--out <dir>', 'directory for the certificate, key and a copy of ca.crt')
  .option('--name <dns name>', 'a DNS name clients dial; repeat for more', collect, [])
  .option('--ip <address>', 'an IP address clients dial; repeat for more', collect, [])
  .option('--days <n>', 'validity in days (default 825)', positiveInteger)
  .option('--force', 'replace an existing server.crt and server.key', false)
  .option('--openssl <path>', 'the openssl command', 'openssl')
  .action((options: { ca: string; out: string; name: string[]; ip: string[]; days?: number; force: boolean; openssl: string }) => run(() => certServerCommand(options)));
cert
  .command('client')
  .description("issue a hospital's client certificate (client.crt, client.key 0600, ca.crt): the agent's identity at the relay")
  .requiredOption('--ca <dir>', 'the CA directory (from wardline cert ca)')
  .requiredOption('--hospital <id>', "the hospital id (the relay's hospitals[].id, the agent's hospital.id)")
  .requiredOption('--out <dir>', 'directory for the certificate, key and a copy of ca.crt')
  .option('--days <n>', 'validity in days (default 825)', positiveInteger)
  .option('--force', 'replace an existing client.crt and client.key', false)
  .option('--openssl <path>', 'the openssl command', 'openssl')
  .action((options: { ca: string; hospital: string; out: string; days?: number; force: boolean; openssl: string }) => run(() => certClientCommand(options)));

program
  .command('demo')
  .description('run a relay, an agent and a simulated hospital as separate processes on the default ports, and show replication working through a line you can cut')
  .option('--rate <messages/s>', 'HL7 messages per second from the simulated hospital', positiveNumber, 20)
  .option('--dir <dir>', 'where the demo keeps its configs, data and logs', '.wardline-demo')
  .option('--duration <seconds>', 'stop by itself after this long (default: run until Ctrl-C)', positiveNumber)
  .option('--ephemeral-ports', 'use free ports instead of the defaults (8480, 2575, 7443, 7480)', false)
  .option('--cut-line-at <seconds>', 'cut the line between agent and relay this long after the demo is running (keys: c cuts, r restores)', positiveNumber)
  .option('--restore-line-at <seconds>', 'restore it this long after the demo is running', positiveNumber)
  .action((options: DemoOptions) => run(() => demoCommand(options)));

await program.parseAsync(process.argv);
