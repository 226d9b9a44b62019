// Runs an example vendor consumer (examples/vendor-*) as a child process, so a
// test can SIGTERM or SIGKILL it mid-run, and reads back what it wrote: its
// output file of processed events and its log lines.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_PATH } from './wardline-process.js';
import { until } from './until.js';

/** The checkout's root (CLI_PATH is <root>/dist/cli/wardline.js). */
export const REPOSITORY_ROOT = join(CLI_PATH, '../../..');
export const DEBIAN_PYTHON = '/usr/bin/python3';

export interface ConsumerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ConsumerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ConsumerExit>;
  stdout = '';
  stderr = '';

  constructor(command: string, args: string[], env: Record<string, string> = {}) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  kill(signal: NodeJS.Signals): Promise<ConsumerExit> {
    this.child.kill(signal);
    return this.exited;
  }

  /** Its stdout's JSON lines. */
  logLines(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Everything it printed, for a failure message. */
  get output(): string {
    return `stdout:\n${this.stdout.slice(-4000)}\nstderr:\n${this.stderr.slice(-4000)}`;
  }

  /** Exits 0 within timeoutMs, or throws with its output. */
  async exitsCleanly(timeoutMs = 20_000): Promise<void> {
    const exit = await Promise.race([this.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs))]);
    if (exit === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`consumer still running after ${timeoutMs} ms\n${this.output}`);
    }
    if (exit.code !== 0) throw new Error(`consumer exited ${exit.code ?? exit.signal}\n${this.output}`);
  }
}

/** One line of a consumer's output file. */
export interface ProcessedEvent {
  seq: number;
  prev_seq: number;
  stream: string;
  key: string;
  op: string;
}

export function readProcessed(file: string): ProcessedEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ProcessedEvent);
}

/** Waits until the output file holds at least `count` events. */
export async function processedAtLeast(file: string, count: number, consumer: ConsumerProcess, timeoutMs = 20_000): Promise<number> {
  let exited = false;
  void consumer.exited.then(() => (exited = true));
  const lines = await until(
    `${count} events in ${file}`,
    () => (exited ? Number.POSITIVE_INFINITY : countLines(file)),
    (n) => n >= count,
    { timeoutMs, pollMs: 10 },
  );
  if (lines === Number.POSITIVE_INFINITY) throw new Error(`the consumer exited before processing ${count} events\n${consumer.output}`);
  return lines;
}

function countLines(file: string): number {
  if (!existsSync(file)) return 0;
  const text = readFileSync(file, 'utf8');
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * How the processed events compare with the feed: every seq exactly once, in
 * the feed's order, each line's prev_seq the line before it.
 */
export function tally(processed: ProcessedEvent[], feedSeqs: readonly number[]) {
  const seen = new Map<number, number>();
  for (const event of processed) seen.set(event.seq, (seen.get(event.seq) ?? 0) + 1);
  const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
  const missing = feedSeqs.filter((seq) => !seen.has(seq)).length;
  const unexpected = [...seen.keys()].filter((seq) => !feedSeqs.includes(seq)).length;
  let outOfOrder = 0;
  let broken = 0;
  for (let i = 1; i < processed.length; i++) {
    if (processed[i]!.seq <= processed[i - 1]!.seq) outOfOrder++;
    if (processed[i]!.prev_seq !== processed[i - 1]!.seq) broken++;
  }
  if (processed.length > 0 && processed[0]!.prev_seq !== 0) broken++;
  return { events: processed.length, unique: seen.size, duplicates, missing, unexpected, outOfOrder, broken };
}

/** Why the example cannot run here, or undefined when it can. */
export function missingTools(tools: { command: string; args: string[]; what: string }[]): string | undefined {
  for (const tool of tools) {
    const run = spawnSync(tool.command, tool.args, { stdio: 'ignore' });
    if (run.error || run.status !== 0) return `${tool.what} is not available (${[tool.command, ...tool.args].join(' ')} failed); .ci/run installs it`;
  }
  return undefined;
}
