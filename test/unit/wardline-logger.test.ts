import { describe, expect, it } from 'vitest';
import { createWardlineLogger, defaultLogFormat, duplicateJsonKeys, journalTextLine, JsonScanError } from '../../runtime/index.js';

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

describe('the text format (log.format: text, for journald)', () => {
  it('opens every line with its syslog priority and writes each key once', () => {
    const out = capture();
    const log = createWardlineLogger({ level: 'trace', base: { part: 'agent', hospital: 'H1' }, destination: out.destination, format: 'text' });
    log.child({ part: 'alerts' }).error({ level: 1, rule: 'disk', part: 'alerts' }, 'alert: disk');
    log.warn({ relay: 'cloud' }, 'relay link without TLS');
    log.info({ dataDir: '/var/lib/wardline data', headSeq: 7, ok: true }, 'journal opened');
    log.debug('MLLP listener idle -> listening');
    log.trace('tick');
    log.fatal('cannot start');
    log.error(new Error('boom\n  at line two'), 'failed\nsecond line');

    expect(out.lines).toHaveLength(7);
    const [alert, warn, info, debug, trace, fatal, failed] = out.lines;
    // sd-daemon(3): journald stores the prefix as PRIORITY, so `journalctl -p err` finds <3> and <2>.
    expect(alert).toBe('<3>alert: disk part=alerts hospital=H1 rule=disk levelField=1');
    expect(warn).toBe('<4>relay link without TLS part=agent hospital=H1 relay=cloud');
    expect(info).toBe('<6>journal opened part=agent hospital=H1 dataDir="/var/lib/wardline data" headSeq=7 ok=true');
    expect(debug).toMatch(/^<7>MLLP listener idle -> listening /);
    expect(trace).toMatch(/^<7>tick /);
    expect(fatal).toMatch(/^<2>cannot start /);
    // One record, one line: the newlines of the message and the stack are escaped.
    expect(failed).toMatch(/^<3>failed\\nsecond line part=agent hospital=H1 err=\{"type":"Error","message":"boom\\n  at line two","stack":"Error: boom\\n/);
    for (const line of out.lines) {
      expect(line, line).not.toMatch(/(?:^|\s)(?:time|pid|hostname|level|msg)=/);
      const keys = [...line.matchAll(/(?:^|\s)([A-Za-z_][\w.]*)=/g)].map((m) => m[1]);
      expect(new Set(keys).size, line).toBe(keys.length);
    }
  });

  it('is what a program writes by default only when stdout is the journal stream systemd named', () => {
    const stdout = { dev: 2049, ino: 123456 };
    expect(defaultLogFormat('2049:123456', stdout)).toBe('text');
    // A child whose stdout is a pipe or a file inherited JOURNAL_STREAM: its lines are not journald's.
    expect(defaultLogFormat('2049:999', stdout)).toBe('json');
    expect(defaultLogFormat(undefined, stdout)).toBe('json');
    expect(defaultLogFormat('', stdout)).toBe('json');
    expect(defaultLogFormat('2049:123456', undefined)).toBe('json');
    expect(defaultLogFormat('2049:123456', { dev: 2049n, ino: 123456n })).toBe('text');
  });

  it('writes what is not a JSON record as it came, at info', () => {
    expect(journalTextLine('not json\n')).toBe('<6>not json\n');
    expect(journalTextLine('{"level":50,"msg":"x","a":""}')).toBe('<3>x a=""\n');
  });
});
