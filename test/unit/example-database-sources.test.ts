// The commented database sources and the DICOM source in examples/agent.yaml,
// uncommented, are valid source entries of each kind: an operator who uncomments
// one gets a config that loads, with every key the README's reference lists.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SourceConfigSchema } from '../../agent/sources/index.js';

/** The lines between the markers, with the comment prefix taken off (a comment inside stays a comment). */
function uncommentedBlock(marker: string): string {
  const text = readFileSync(new URL('../../examples/agent.yaml', import.meta.url), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.includes(`# >>> ${marker}`));
  const end = lines.findIndex((l) => l.includes(`# <<< ${marker}`));
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  return lines
    .slice(start + 1, end)
    .filter((l) => /^ {2}# [-\s]/.test(l))
    .map((l) => l.replace(/^ {2}# /, ''))
    .join('\n');
}

describe('the example database sources', () => {
  it('parse as one source of each kind', () => {
    const entries = parse(uncommentedBlock('database sources')) as unknown[];
    const parsed = entries.map((e) => SourceConfigSchema.parse(e));
    expect(parsed.map((p) => p.kind)).toEqual(['postgres', 'mysql', 'sql-poll']);
    const [pg, my, poll] = parsed as unknown as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    expect(pg).toMatchObject({ name: 'his', slot: 'wardline_his', publication: 'wardline_his', snapshot: 'initial', lagThreshold: 5000, heartbeatInterval: 10_000 });
    expect((pg.tables as { columns?: string[] }[])[0]!.columns).toContain('id');
    expect(my).toMatchObject({ name: 'lis-db', serverId: 4107 });
    expect(poll).toMatchObject({ dialect: 'mysql', interval: 1000, lagWindow: 5000 });
    expect((poll.tables as { tombstoneTable?: string }[])[1]!.tombstoneTable).toBe('study_requests_deleted');
  });
});

describe('the example DICOM source', () => {
  it('parses as a dicom source with its port, AE titles and stream', () => {
    const entries = parse(uncommentedBlock('dicom source')) as unknown[];
    expect(entries.map((e) => SourceConfigSchema.parse(e))).toEqual([
      { kind: 'dicom', name: 'pacs', listen: { host: '0.0.0.0', port: 11112 }, aeTitle: 'WARDLINE', acceptCallingAeTitles: ['CT01', 'MR02', 'PACS'], stream: 'imaging', critical: false },
    ]);
  });
});
