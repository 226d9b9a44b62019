// Runs the real `wardline` CLI (the built dist/) as a child process, so tests can
// kill it with SIGKILL exactly as an operator's `kill -9` would.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root: this file runs from test/support/ (vitest) or dist/test/support/ (bench). */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

export const CLI_PATH = join(repositoryRoot(), 'dist/cli/wardline.js');

/**
 * Node options for every child (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to
 * profile agent and relay under a benchmark); Node refuses --cpu-prof in NODE_OPTIONS.
 */
const CHILD_NODE_ARGS = (process.env.WARDLINE_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);

export class WardlineProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';

  /** @param env extra environment variables, over this process's own */
  constructor(args: string[], logFile?: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [...CHILD_NODE_ARGS, CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const log: WriteStream | undefined = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
    const keep = (chunk: Buffer): void => {
      log?.write(chunk);
      // Keep the tail only: enough to explain a failure without holding every log line.
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        log?.end();
        resolve({ code, signal });
      }),
    );
  }

  get recentOutput(): string {
    return this.output;
  }

  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal);
    return this.exited;
  }
}

/** Polls url until it answers 2xx; throws with the process output if it does not within timeoutMs. */
export async function waitForHttp(url: string, process: WardlineProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void process.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up${exited ? ' (the process exited)' : ''}:\n${process.recentOutput}`);
}
