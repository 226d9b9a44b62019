#!/usr/bin/env node
// The `wardline` command. Parses arguments (commander) and hands typed options to
// the composition roots; every long-running command stops cleanly on SIGTERM/SIGINT.
import { Command, InvalidArgumentError } from 'commander';
import { startAgent } from '../agent/main.js';
import { startRelay } from '../cloud-relay/main.js';
import { ConfigError, WARDLINE_VERSION, DEFAULT_AGENT_HTTP_PORT, DEFAULT_RELAY_GRPC_PORT } from '../protocol/index.js';
import { agentReconnectCommand } from './agent-reconnect-command.js';
import { agentStatusCommand } from './agent-status-command.js';
import { demoCommand } from './demo-command.js';
import { feedTailCommand } from './feed-tail-command.js';
import { runUntilSignal } from './run-until-signal.js';

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

/** Runs a command body, turning a bad config into its precise message and exit code 78 (EX_CONFIG). */
async function run(body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body();
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`wardline: ${error.message}\n`);
      process.exitCode = 78;
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
  .command('status')
  .description("print the agent's link, feeds and sources; exit 1 if a link is down, 2 if the agent is unreachable")
  .option('--url <url>', 'agent HTTP address', `http://127.0.0.1:${DEFAULT_AGENT_HTTP_PORT}`)
  .option('--json', 'print the status JSON')
  .action((options: { url: string; json?: boolean }) => run(() => agentStatusCommand(options)));
agent
  .command('reconnect')
  .description('make the agent drop its relay streams and backoff waits and connect again now; exit 2 if the agent is unreachable')
  .option('--url <url>', 'agent HTTP address', `http://127.0.0.1:${DEFAULT_AGENT_HTTP_PORT}`)
  .action((options: { url: string }) => run(() => agentReconnectCommand(options)));

const relay = program.command('relay').description('the cloud relay');
relay
  .command('start')
  .description('run the relay (agent ingest, vendor feeds, status)')
  .requiredOption('-c, --config <file>', 'relay YAML config')
  .action((options: { config: string }) =>
    run(async () => {
      const running = await startRelay(options.config);
      process.stderr.write(`wardline relay running: gRPC port ${running.grpcPort}, HTTP port ${running.httpPort}\n`);
      await runUntilSignal(() => running.stop());
    }),
  );

const feed = program.command('feed').description('vendor side: read replicated feeds');
feed
  .command('tail')
  .description('print a feed from a cursor as NDJSON (the reference vendor consumer)')
  .requiredOption('--feed <name>', 'feed name')
  .requiredOption('--key <key>', 'vendor API key (or set WARDLINE_VENDOR_KEY)', process.env.WARDLINE_VENDOR_KEY)
  .option('--relay <host:port>', 'relay gRPC address', `127.0.0.1:${DEFAULT_RELAY_GRPC_PORT}`)
  .option('--after <seq>', 'cursor: the last seq already processed', nonNegativeInteger, 0)
  .option('-f, --follow', 'keep streaming new events', false)
  .option('--hospital <id>', 'hospital id, when the key reads the same feed at several hospitals')
  .option('--format <format>', 'ndjson or text', 'ndjson')
  .option('--limit <n>', 'stop after n events', nonNegativeInteger)
  .action((options: { feed: string; key: string; relay: string; after: number; follow: boolean; hospital?: string; format: string; limit?: number }) =>
    run(async () => {
      if (options.format !== 'ndjson' && options.format !== 'text') throw new InvalidArgumentError(`--format must be ndjson or text, got "${options.format}"`);
      const abort = new AbortController();
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => abort.abort());
      return feedTailCommand({ ...options, format: options.format }, abort.signal);
    }),
  );

program
  .command('demo')
  .description('run a relay, an agent and a simulated hospital on the default ports, and show replication working')
  .option('--rate <messages/s>', 'HL7 messages per second from the simulated hospital', positiveNumber, 20)
  .option('--dir <dir>', 'where the demo keeps its configs, data and logs', '.wardline-demo')
  .option('--duration <seconds>', 'stop by itself after this long (default: run until Ctrl-C)', positiveNumber)
  .option('--ephemeral-ports', 'use free ports instead of the defaults (8480, 2575, 7443, 7480)', false)
  .action((options: { rate: number; dir: string; duration?: number; ephemeralPorts: boolean }) => run(() => demoCommand(options)));

await program.parseAsync(process.argv);
