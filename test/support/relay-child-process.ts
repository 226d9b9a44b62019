// Runs test/support/relay-child.ts (built into dist/) as a child process, so a
// test can SIGKILL a relay exactly as an operator's `kill -9` would.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { CLI_PATH } from './wardline-process.js';

/** dist/test/support/relay-child.js, beside the built CLI. */
export const RELAY_CHILD_PATH = join(CLI_PATH, '../../test/support/relay-child.js');

export class RelayChild {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** @param config the relay.yaml; @param logFile where its output is appended */
  constructor(config: string, logFile?: string) {
    this.child = spawn(process.execPath, [RELAY_CHILD_PATH, config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
    this.child.stdout!.on('data', (chunk: Buffer) => log?.write(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => log?.write(chunk));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        log?.end();
        resolve({ code, signal });
      }),
    );
  }

  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal);
    return this.exited;
  }
}
