// Loads a YAML config file and validates it against a zod schema, so agent and
// relay report a bad config the same way: the key path, the value found, what was
// expected, and the file — `sources[1].listen: expected host:port, got "2575x" (agent.yaml)`.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
  /**
   * A config file cannot be used as written; the message names each key, its value and the file. Fix what it
   * names and start again (`wardline` exits 78, EX_CONFIG, so systemd and scripts can tell it from a crash).
   */
  readonly code = 'WL_CONFIG';
  constructor(
    message: string,
    readonly file: string,
    readonly problems: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function loadConfigFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${file}: ${(cause as Error).message}`, file, [], { cause });
  }
  return parseConfigText(text, file, schema);
}

export function parseConfigText<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const problems = document.errors.map((e) => e.message.split('\n')[0] ?? e.message);
    throw new ConfigError(`${file} is not valid YAML:\n  ${problems.join('\n  ')}`, file, problems);
  }
  return validateConfig(document.toJS() ?? {}, file, schema);
}

export function validateConfig<S extends z.ZodType>(value: unknown, file: string, schema: S): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => describeIssue(issue, value, file));
  throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`, file, problems);
}

function describeIssue(issue: z.core.$ZodIssue, root: unknown, file: string): string {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    return `${keys.join(', ')}: unknown key${keys.length > 1 ? 's' : ''} (${file})`;
  }
  const found = valueAt(root, issue.path);
  const secret = issue.path.some((part) => typeof part === 'string' && SECRET_KEY.test(part));
  const got = found === undefined ? 'nothing' : secret ? 'a value (not shown: it is a secret)' : JSON.stringify(found);
  const message = issue.message.replace(/^Invalid input: /, '');
  return `${path || '(top level)'}: ${message}, got ${got} (${file})`;
}

/** Keys whose values never appear in an error message. */
const SECRET_KEY = /^(.*secret|.*password|.*token|key|privateKey)$/i;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

/** `host:port` as written in configs; port 0 asks the OS for a free port (tests). */
export interface ListenAddress {
  host: string;
  port: number;
}

const HOST_PORT = /^(?<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(?<port>\d{1,5})$/;

export function parseHostPort(text: string): ListenAddress | undefined {
  const match = HOST_PORT.exec(text);
  if (!match?.groups) return undefined;
  const port = Number(match.groups.port);
  if (port > 65535) return undefined;
  return { host: match.groups.host!.replace(/^\[|\]$/g, ''), port };
}

/** A zod schema for `host:port` strings that yields a ListenAddress. */
export function hostPortSchema() {
  return z.string().transform((text, ctx) => {
    const address = parseHostPort(text);
    if (!address) {
      ctx.addIssue({ code: 'custom', message: 'expected host:port' });
      return z.NEVER;
    }
    return address;
  });
}
