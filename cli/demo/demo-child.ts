// A demo part running as a child process (see demo-part.ts): started, waited for
// until it reports its ports, watched (an exit the demo did not ask for is
// reported), and stopped with SIGTERM, then SIGKILL if it does not go.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DemoPartMessage, DemoPartName } from './demo-part-message.js';

const PART_SCRIPT = fileURLToPath(new URL('./demo-part.js', import.meta.url));
/** How long a part may take to stop after SIGTERM before it is killed, in ms (the agent syncs its journal). */
export const DEMO_CHILD_STOP_TIMEOUT_MS = 15_000;

/** A part could not start; portInUse when a port it needed was taken. */
export class DemoChildFailedError extends Error {
  constructor(readonly part: DemoPartName, message: string, readonly portInUse: number | undefined) {
    super(message);
    this.name = 'DemoChildFailedError';
  }
}

export class DemoChild {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set when the demo asked it to stop, so its exit is expected. */
  private stopping = false;
  private readonly child: ChildProcess;

  private constructor(
    readonly part: DemoPartName,
    arg: string,
    readonly logFile: string,
    onMessage: (message: DemoPartMessage) => void,
    onUnexpectedExit: (child: DemoChild, how: string) => void,
    env: Record<string, string> = {},
  ) {
    const log = openSync(logFile, 'a');
    // detached: its own process group, so a Ctrl-C in the terminal reaches the demo
    // only, and the demo stops the parts in order (hospital, agent, relay).
    this.child = spawn(process.execPath, [PART_SCRIPT, part, arg], { stdio: ['ignore', log, log, 'ipc'], detached: true, env: { ...process.env, ...env } });
    closeSync(log);
    this.child.on('message', (message: DemoPartMessage) => onMessage(message));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        if (!this.stopping) onUnexpectedExit(this, signal ? `was killed by ${signal}` : `exited with code ${code}`);
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Starts a part and resolves with its ports once it is ready; rejects with DemoChildFailedError otherwise. */
  static start(
    part: DemoPartName,
    arg: string,
    logFile: string,
    handlers: {
      onStats?: (message: Extract<DemoPartMessage, { kind: 'stats' | 'his-stats' | 'app-stats' }>) => void;
      onUnexpectedExit: (child: DemoChild, how: string) => void;
      /** Extra environment of the part's process (NODE_EXTRA_CA_CERTS for a part that dials the relay's HTTPS). */
      env?: Record<string, string>;
    },
  ): Promise<{ child: DemoChild; ports: Record<string, number> }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const child: DemoChild = new DemoChild(
        part,
        arg,
        logFile,
        (message) => {
          if (message.kind === 'stats' || message.kind === 'his-stats' || message.kind === 'app-stats') handlers.onStats?.(message);
          else if (settled) return;
          else if (message.kind === 'ready') {
            settled = true;
            resolve({ child, ports: message.ports });
          } else {
            settled = true;
            child.stopping = true;
            reject(new DemoChildFailedError(part, message.message, message.portInUse));
          }
        },
        (exited, how) => {
          if (settled) return handlers.onUnexpectedExit(exited, how);
          settled = true;
          reject(new DemoChildFailedError(part, `the ${part} ${how} before it was ready (see ${logFile})`, undefined));
        },
        handlers.env,
      );
    });
  }

  /** SIGTERM, then SIGKILL after DEMO_CHILD_STOP_TIMEOUT_MS; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), DEMO_CHILD_STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}
