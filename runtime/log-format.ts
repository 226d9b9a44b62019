// Which log format a program writes when its config does not say (`log.format`):
// text with syslog priority prefixes when stdout is journald's stream, JSON
// otherwise. systemd sets JOURNAL_STREAM to the device and inode of the stream
// it connected (systemd.exec(5)); comparing them with stdout's own tells a
// service writing to journald from a child of it whose stdout is a pipe or a
// file (a test harness, `| tee`), which inherited the variable.
// The composition roots read the environment and stdout and hand them in.
import { fstatSync } from 'node:fs';

/** `text`: one line per record with the sd-daemon priority prefix (journald). `json`: one JSON object per line. */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The format for a program whose config names none. */
export function defaultLogFormat(journalStream: string | undefined, stdout: { dev: number | bigint; ino: number | bigint } | undefined): LogFormat {
  if (!journalStream || !stdout) return 'json';
  const [dev, ino] = journalStream.split(':');
  return dev === String(stdout.dev) && ino === String(stdout.ino) ? 'text' : 'json';
}

/** stdout's device and inode, for defaultLogFormat; undefined when fd 1 is closed. */
export function stdoutIdentity(): { dev: number; ino: number } | undefined {
  try {
    const { dev, ino } = fstatSync(1);
    return { dev, ino };
  } catch {
    return undefined;
  }
}
