// The text log format, for journald: one line per record, opened by the
// sd-daemon priority prefix (`<3>` for an error, sd-daemon(3)), which journald
// strips and stores as the record's PRIORITY, so `journalctl -p err` finds the
// errors and `-p warning` the warnings too. The rest is the message and the
// record's fields as key=value. journald stamps time, pid and host itself, so
// pino's `time`, `pid` and `hostname` are left out.
//
// The line is made from the JSON line pino wrote, after wardline-logger's
// hooks have taken repeated keys out: a text line carries each key once, as
// the JSON line does.
//
// Failure modes handled:
//  1. A message or value with a newline would split one record into two
//     journal entries (the second at the default priority): control characters
//     are escaped, values with spaces, quotes or `=` are JSON-quoted.
//  2. Something that is not a JSON object reaches the destination: written as
//     it came, at priority 6 (info), rather than lost.
import type { DestinationStream } from 'pino';

/** syslog priorities (RFC 5424) by pino level: fatal → 2 crit, error → 3 err, warn → 4 warning, info → 6 info, debug and trace → 7 debug. */
export function syslogPriority(pinoLevel: number): number {
  if (pinoLevel >= 60) return 2;
  if (pinoLevel >= 50) return 3;
  if (pinoLevel >= 40) return 4;
  if (pinoLevel >= 30) return 6;
  return 7;
}

/** Written by journald itself for every entry. */
const LEFT_TO_JOURNALD = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value !== '' && /^[^\s"=\\\u0000-\u001f\u007f]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // Objects (err with its stack, lists of ports) stay JSON: one line, nothing flattened into keys that could repeat.
  return JSON.stringify(value) ?? String(value);
}

/** One pino JSON line (without or with its newline) as a journald text line, newline included. */
export function journalTextLine(jsonLine: string): string {
  const trimmed = jsonLine.endsWith('\n') ? jsonLine.slice(0, -1) : jsonLine;
  let record: unknown;
  try {
    record = JSON.parse(trimmed);
  } catch {
    record = undefined;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return `<6>${escapeControls(trimmed)}\n`;
  const fields = record as Record<string, unknown>;
  const priority = syslogPriority(typeof fields.level === 'number' ? fields.level : 30);
  const parts: string[] = [];
  if (typeof fields.msg === 'string' && fields.msg !== '') parts.push(escapeControls(fields.msg));
  for (const [key, value] of Object.entries(fields)) {
    if (LEFT_TO_JOURNALD.has(key) || value === undefined) continue;
    parts.push(`${escapeControls(key)}=${formatValue(value)}`);
  }
  return `<${priority}>${parts.join(' ')}\n`;
}

/** A destination that writes each of pino's JSON lines to `inner` as a journald text line. */
export function journalTextDestination(inner: DestinationStream): DestinationStream {
  return {
    write(chunk: string): void {
      // pino writes one record per call; a chunk of several lines is split all the same.
      const lines = chunk.split('\n').filter((line) => line !== '');
      inner.write(lines.map(journalTextLine).join(''));
    },
  };
}
