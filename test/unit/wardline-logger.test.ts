import { describe, expect, it } from 'vitest';
import { createWardlineLogger, duplicateJsonKeys, JsonScanError } from '../../runtime/index.js';

function capture(): { lines: string[]; destination: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (chunk: string) => lines.push(...chunk.split('\n').filter((l) => l !== '')) } };
}

describe('duplicateJsonKeys', () => {
  it('names keys repeated within one object, by path, and only those', () => {
    expect(duplicateJsonKeys('{"level":50,"part":"agent","part":"alerts","level":1}')).toEqual(['part', 'level']);
    expect(duplicateJsonKeys('{"a":{"b":1,"b":2},"c":[{"d":1,"d":"x"}],"e":"\\"b\\":1"}')).toEqual(['a.b', 'c[0].d']);
    expect(duplicateJsonKeys('{"a":1,"b":{"a":1}}')).toEqual([]);
    expect(duplicateJsonKeys(' [1, -2.5e3, true, null, "s"] ')).toEqual([]);
  });

  it('refuses what is not JSON', () => {
    expect(() => duplicateJsonKeys('{"a":1')).toThrow(JsonScanError);
    expect(() => duplicateJsonKeys('{"a":1} x')).toThrow(/trailing text/);
  });
});

describe('createWardlineLogger', () => {
  it('writes no key twice: a child repeating a bound key, a field named like level, a field repeating a binding', () => {
    const out = capture();
    const log = createWardlineLogger({ level: 'debug', base: { part: 'agent', hospital: 'H1' }, destination: out.destination });
    const alerts = log.child({ part: 'alerts' });
    alerts.error({ level: 1, rule: 'disk', part: 'alerts' }, 'alert: disk');
    const source = log.child({ source: 'lis' });
    source.info({ source: 'lis', port: 2575 }, 'MLLP listener started');
    source.info({ source: 'other', time: 3 }, 'differs');
    source.child({ source: 'lis', peer: 'a' }).child({ peer: 'b' }).warn('nested');
    log.error(new Error('boom'), 'failed');

    for (const line of out.lines) expect(duplicateJsonKeys(line), line).toEqual([]);
    const [alert, started, differs, nested, failed] = out.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // pino's level stays the error level readers filter on; the alert's own is kept beside it.
    expect(alert).toMatchObject({ level: 50, levelField: 1, part: 'alerts', hospital: 'H1', rule: 'disk', msg: 'alert: disk' });
    expect(started).toMatchObject({ level: 30, source: 'lis', port: 2575 });
    expect(started).not.toHaveProperty('sourceField');
    expect(differs).toMatchObject({ source: 'lis', sourceField: 'other', timeField: 3 });
    expect(typeof differs!.time).toBe('number');
    expect(nested).toMatchObject({ level: 40, source: 'lis', peer: 'b', part: 'agent' });
    expect(failed).toMatchObject({ level: 50, err: { message: 'boom' }, msg: 'failed' });
  });
});
