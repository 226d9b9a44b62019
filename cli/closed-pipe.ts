// A reader that stops early (`wardline audit verify | head`, a pager quit) closes
// the pipe under the command; the next write fails with EPIPE. That is not a fault
// of the command and must not end in a stack trace: the process stops at once, with
// nothing more written (nowhere to write it), exit code 141 as a Unix tool killed by
// SIGPIPE has, so `set -o pipefail` scripts see the output was cut rather than a
// success. Node ignores SIGPIPE itself, so without this the error is unhandled.

/** 128 + SIGPIPE (13): what `cat`, `grep` and other tools exit with when their reader goes. */
export const CLOSED_PIPE_EXIT_CODE = 141;

/** Installs the one handler for EPIPE on stdout and stderr; any other stream error still surfaces. */
export function exitQuietlyOnClosedPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr], exit: (code: number) => never = process.exit): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') exit(CLOSED_PIPE_EXIT_CODE);
      throw error;
    });
  }
}
