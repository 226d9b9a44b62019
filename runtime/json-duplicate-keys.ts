// Finds keys repeated within one JSON object. JSON.parse keeps the last of them
// silently, and so do jq and most log shippers: a log line with "level" twice is
// read as whatever came last. Used by the logger to keep its lines unambiguous and
// by tests that read every line a process wrote.

/** Thrown for text that is not one JSON value. */
export class JsonScanError extends Error {
  override readonly name = 'JsonScanError';
}

/**
 * The keys that occur more than once in the same object of `text`, each named by
 * its path (`level`, `err.code`, `items[2].id`), in order of first repetition.
 * Throws JsonScanError when `text` is not well-formed JSON.
 */
export function duplicateJsonKeys(text: string): string[] {
  const duplicates: string[] = [];
  let at = 0;

  const fail = (what: string): never => {
    throw new JsonScanError(`${what} at offset ${at}`);
  };
  const skipSpace = (): void => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at++;
  };
  const readString = (): string => {
    if (text[at] !== '"') fail('expected a string');
    const start = at;
    at++;
    while (at < text.length && text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
    if (at >= text.length) fail('unterminated string');
    at++;
    return JSON.parse(text.slice(start, at)) as string;
  };
  /** After a member or element: true when `close` ends the container, false after a comma. */
  const endOrComma = (close: '}' | ']'): boolean => {
    skipSpace();
    if (text[at] === ',') at++;
    else if (text[at] === close) at++;
    else fail(`expected "," or "${close}"`);
    return text[at - 1] === close;
  };
  /** Consumes `close` right after the opening bracket; true when the container is empty. */
  const isEmpty = (close: '}' | ']'): boolean => {
    at++;
    skipSpace();
    if (text[at] !== close) return false;
    at++;
    return true;
  };
  const readValue = (path: string): void => {
    skipSpace();
    const c = text[at];
    if (c === '{') readObject(path);
    else if (c === '[') readArray(path);
    else if (c === '"') readString();
    else {
      const literal = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(at, at + 400));
      if (!literal) fail('expected a value');
      at += literal![0].length;
    }
  };
  const readObject = (path: string): void => {
    const seen = new Set<string>();
    if (isEmpty('}')) return;
    for (;;) {
      skipSpace();
      const key = readString();
      const keyPath = path ? `${path}.${key}` : key;
      if (seen.has(key)) duplicates.push(keyPath);
      seen.add(key);
      skipSpace();
      if (text[at] !== ':') fail('expected ":"');
      at++;
      readValue(keyPath);
      if (endOrComma('}')) return;
    }
  };
  const readArray = (path: string): void => {
    if (isEmpty(']')) return;
    for (let index = 0; ; index++) {
      readValue(`${path}[${index}]`);
      if (endOrComma(']')) return;
    }
  };

  readValue('');
  skipSpace();
  if (at !== text.length) fail('trailing text');
  return duplicates;
}
