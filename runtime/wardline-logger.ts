// The JSON logger of both programs: pino, set up so that no line carries a key
// twice. pino writes a child's bindings after its parent's and a call's fields
// after both, without looking for repeats, and readers (JSON.parse, jq, log
// shippers) keep the last: an alert logged with its own `level` field read as
// level 1 instead of error (50), and a child's `part` hid its parent's.
//
// Failure modes handled:
//  1. A child binding a key its ancestors bound (`part`): the child's value
//     replaces the ancestor's in the child's bindings, so the line says it once.
//  2. A call's field named like a key pino writes itself (`level`, `time`, `pid`,
//     `hostname`, `msg`): the field is written as `<key>Field` (`levelField`);
//     pino's own value stays where readers look for it.
//  3. A call's field repeating a bound key (`source` bound by the source's child
//     logger and passed again): dropped when the value is the same, written as
//     `<key>Field` when it differs.
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import { duplicateJsonKeys } from './json-duplicate-keys.js';
import { journalTextDestination } from './journal-text-line.js';
import type { LogFormat } from './log-format.js';

/** Keys pino writes on every line by itself (with its default base). */
const PINO_KEYS = ['level', 'time', 'pid', 'hostname', 'msg'] as const;

const chindingsSym = pino.symbols.chindingsSym as unknown as symbol;

type WithChindings = { [key: symbol]: string };

interface BoundKeys {
  chindings: string;
  /** Bound key → its value as JSON. */
  values: Map<string, string>;
}

const boundKeysByLogger = new WeakMap<object, BoundKeys>();

function boundKeys(logger: Logger): BoundKeys {
  const chindings = (logger as unknown as WithChindings)[chindingsSym] ?? '';
  const cached = boundKeysByLogger.get(logger);
  if (cached && cached.chindings === chindings) return cached;
  const values = new Map<string, string>();
  const bound = chindings ? (JSON.parse(`{${chindings.slice(1)}}`) as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(bound)) values.set(key, JSON.stringify(value));
  for (const key of PINO_KEYS) if (!values.has(key)) values.set(key, '');
  const entry = { chindings, values };
  boundKeysByLogger.set(logger, entry);
  return entry;
}

/**
 * The fields of one call with nothing that would repeat a key already on the line
 * (failure modes 2 and 3). Returns `fields` itself when nothing collides.
 */
export function withoutRepeatedKeys(fields: Record<string, unknown>, bound: ReadonlyMap<string, string>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    const boundValue = bound.get(key);
    if (boundValue === undefined) continue;
    out ??= { ...fields };
    delete out[key];
    if (boundValue !== '' && safeJson(value) === boundValue) continue;
    let renamed = `${key}Field`;
    while (renamed in out || bound.has(renamed)) renamed += '_';
    out[renamed] = value;
  }
  return out ?? fields;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** Failure mode 1: rebuilds a child's bindings when they repeat an ancestor's key, the child's value kept. */
function dedupeChildBindings(child: Logger): void {
  const holder = child as unknown as WithChindings;
  const chindings = holder[chindingsSym] ?? '';
  if (!chindings) return;
  const json = `{${chindings.slice(1)}}`;
  if (duplicateJsonKeys(json).length === 0) return;
  holder[chindingsSym] = '';
  child.setBindings(JSON.parse(json) as Record<string, unknown>);
}

export interface WardlineLoggerOptions {
  level: string;
  /** Bound on every line (e.g. `{ part: 'agent', hospital }`). */
  base?: Record<string, unknown>;
  /** Default stdout. */
  destination?: DestinationStream;
  /** Default `json`; `text` writes journald lines with syslog priority prefixes (journal-text-line.ts), from the same deduplicated record. */
  format?: LogFormat;
}

/** pino options that keep every line free of repeated keys; for callers that build their own pino. */
export function wardlineLoggerOptions(level: string, base?: Record<string, unknown>): LoggerOptions {
  return {
    level,
    // A base given replaces pino's own (pid, hostname), as pino does.
    ...(base ? { base } : {}),
    hooks: {
      logMethod(args, method) {
        const [first] = args as unknown[];
        if (first !== null && typeof first === 'object' && !(first instanceof Error)) {
          (args as unknown[])[0] = withoutRepeatedKeys(first as Record<string, unknown>, boundKeys(this).values);
        }
        return method.apply(this, args);
      },
    },
    onChild: dedupeChildBindings,
  };
}

/** The logger both programs write with when none is handed in. */
export function createWardlineLogger(options: WardlineLoggerOptions): Logger {
  const loggerOptions = wardlineLoggerOptions(options.level, options.base);
  if (options.format === 'text') return pino(loggerOptions, journalTextDestination(options.destination ?? pino.destination(1)));
  return options.destination ? pino(loggerOptions, options.destination) : pino(loggerOptions);
}
