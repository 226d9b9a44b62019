// The `sink:` schemas: defaults with their units, safe identifiers only, and
// errors that name the key at fault.
import { describe, expect, it } from 'vitest';
import { SinkConfigSchema, sinkRequirements } from '../../agent/downlink/sinks/index.js';

function issues(value: unknown): string[] {
  const result = SinkConfigSchema.safeParse(value);
  expect(result.success).toBe(false);
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('SinkConfigSchema', () => {
  it('fills the defaults of each kind', () => {
    expect(SinkConfigSchema.parse({ kind: 'mllp', address: 'his.local:2575' })).toMatchObject({
      address: { host: 'his.local', port: 2575 },
      connections: 4,
      ackTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      receivingApplication: 'HIS',
      processingId: 'P',
      mapping: {},
    });
    expect(SinkConfigSchema.parse({ kind: 'webhook', url: 'https://his.local/hook', secretFile: 'webhook.secret' })).toMatchObject({ timeoutMs: 30_000 });
    const inbox = SinkConfigSchema.parse({ kind: 'inbox', dialect: 'postgres', connection: { port: 5432, database: 'his', user: 'wardline' } });
    expect(inbox).toMatchObject({ table: 'wardline_inbox', createTable: false, columns: { id: 'id', eventKey: 'event_key', hisReference: 'his_reference', decidedAt: 'decided_at' } });
  });

  it('takes only safe SQL identifiers for the table and its columns', () => {
    const base = { kind: 'inbox', dialect: 'mysql', connection: { port: 3306, database: 'his', user: 'wardline' } };
    expect(issues({ ...base, table: 'inbox; DROP TABLE patients' })).toEqual([expect.stringMatching(/^table: expected a table name/)]);
    expect(issues({ ...base, columns: { status: 'status"--' } })).toEqual([expect.stringMatching(/^columns\.status: expected an SQL identifier/)]);
  });

  it('names the key at fault', () => {
    expect(issues({ kind: 'mllp', address: 'his.local' })).toEqual(['address: expected host:port']);
    expect(issues({ kind: 'mllp', address: 'his:2575', connections: 0 })[0]).toMatch(/^connections: /);
    expect(issues({ kind: 'webhook', url: 'ftp://his/hook', secretFile: 'x' })[0]).toMatch(/^url: expected an http/);
    expect(issues({ kind: 'mllp', address: 'his:2575', mapping: { 'PID-3': '$.x' } })).toEqual([expect.stringMatching(/^message: a mapping needs the message/)]);
    expect(issues({ kind: 'mllp', address: 'his:2575', message: 'SRM^S01', mapping: { 'PID[2]-3': '$.x', 'PID3': '$.y' } })).toEqual([
      expect.stringMatching(/^mapping\.PID\[2\]-3: .*one segment of each id/),
      expect.stringMatching(/^mapping\.PID3: Invalid HL7 path/),
    ]);
    expect(issues({ kind: 'queue' })[0]).toMatch(/^kind: /);
  });

  it('declares no required fields for sinks that take any JSON', () => {
    expect(sinkRequirements(SinkConfigSchema.parse({ kind: 'webhook', url: 'http://his/hook', secretFile: 'x' }))).toEqual({ requiredFields: [] });
    expect(sinkRequirements(SinkConfigSchema.parse({ kind: 'mllp', address: 'his:2575' }))).toEqual({ requiredFields: [] });
  });
});
