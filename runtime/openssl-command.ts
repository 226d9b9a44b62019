// Runs the `openssl` command. Certificates and keys are made by OpenSSL itself
// rather than by a JavaScript reimplementation of X.509, so what Wardline issues
// is exactly what the TLS stack on both ends parses. Shared because the relay
// signs certificates and the agent side (the installer) makes keys and CSRs.
//
// Failure modes handled:
//  1. openssl is not installed or not on PATH: OpenSslMissingError says how to
//     install it or which option names another binary.
//  2. openssl exits non-zero: OpenSslFailedError carries its stderr, trimmed,
//     and the subcommand, so the message says which step failed and why.
//  3. openssl hangs (waiting on a terminal for a passphrase): killed after
//     timeoutMs; stdin is always closed so it never waits for input.
import { spawn } from 'node:child_process';

/** The command run when no other is given. */
export const DEFAULT_OPENSSL_COMMAND = 'openssl';
/** How long one openssl invocation may take, in milliseconds (key generation is the slow one). */
export const DEFAULT_OPENSSL_TIMEOUT_MS = 30_000;

export interface OpenSslOptions {
  /** The openssl binary, a name on PATH or a path; default DEFAULT_OPENSSL_COMMAND. */
  command?: string;
  /** Milliseconds; default DEFAULT_OPENSSL_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** The openssl command could not be started. */
export class OpenSslMissingError extends Error {
  override name = 'OpenSslMissingError';
  constructor(
    readonly command: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot run "${command}": the openssl command is needed to make keys and certificates; ` +
        'install OpenSSL (apt-get install openssl, dnf install openssl, apk add openssl) or pass --openssl <path to the binary>',
      options,
    );
  }
}

/** openssl ran and failed (or was killed after the timeout). */
export class OpenSslFailedError extends Error {
  override name = 'OpenSslFailedError';
  constructor(
    /** The openssl subcommand, e.g. "x509". */
    readonly subcommand: string,
    readonly exitCode: number | null,
    /** What openssl wrote to stderr, trimmed. */
    readonly stderr: string,
    what: string,
  ) {
    super(`openssl ${subcommand} failed while ${what}${exitCode === null ? ' (killed: it took too long)' : ` (exit ${exitCode})`}: ${stderr || 'no message'}`);
  }
}

/**
 * Runs `openssl <args>` and resolves with its stdout. `what` says, for the error
 * message, what the step was for ("signing the client certificate").
 */
export async function runOpenSsl(args: readonly string[], what: string, options: OpenSslOptions & { input?: string | Buffer } = {}): Promise<Buffer> {
  return (await runOpenSslWithOutput(args, what, options)).stdout;
}

/**
 * As runOpenSsl, also resolving with stderr: some subcommands (`req -verify`)
 * report their verdict there and exit 0 either way.
 */
export function runOpenSslWithOutput(
  args: readonly string[],
  what: string,
  options: OpenSslOptions & { input?: string | Buffer } = {},
): Promise<{ stdout: Buffer; stderr: string }> {
  const command = options.command ?? DEFAULT_OPENSSL_COMMAND;
  const timeoutMs = options.timeoutMs ?? DEFAULT_OPENSSL_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // No shell: arguments are passed as they are, so names can never be interpreted.
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    // Our own timer, cleared on every ending: spawn's `timeout` option keeps the
    // process alive when the command never started.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // openssl may exit before reading stdin; the exit code tells
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' || error.code === 'EACCES' ? new OpenSslMissingError(command, { cause: error }) : error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const errorText = Buffer.concat(stderr).toString('utf8').trim();
      if (code === 0 && !timedOut) return resolve({ stdout: Buffer.concat(stdout), stderr: errorText });
      const message = errorText.split('\n').slice(0, 6).join(' | ');
      reject(new OpenSslFailedError(args[0] ?? '', timedOut ? null : code, message, what));
    });
    child.stdin.end(options.input ?? '');
  });
}
