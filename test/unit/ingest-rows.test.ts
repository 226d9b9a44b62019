import { describe, expect, it } from 'vitest';
import { commitSlices } from '../../agent/sources/http-ingest/index.js';
import { IngestRequestError, parseIngestRows } from '../../agent/sources/http-ingest/ingest-rows.js';
import { AgentConfigSchema, resolveAgentConfig } from '../../agent/config.js';
import { parseConfigText } from '../../runtime/index.js';

const LIMITS = { maxRowDepth: 64, maxRowBytes: 1024 * 1024, maxRows: 10_000 };

async function parse(text: string, sliceBytes?: number, pauses = { n: 0 }) {
  return parseIngestRows('adt', Buffer.from(text), 'upsert', { limits: LIMITS, sliceBytes, pause: async () => void pauses.n++ });
}

async function refusal(text: string): Promise<IngestRequestError> {
  try {
    await parse(text);
  } catch (error) {
    if (error instanceof IngestRequestError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('parseIngestRows', () => {
  it('makes one event per row, normalised, keyed by its key', async () => {
    const events = await parse('[ {"key": "P1", "name": "张三"}, {"key": 42} ]');
    expect(events.map((e) => [e.key, e.body.toString()])).toEqual([
      ['P1', '{"key":"P1","name":"张三"}'],
      ['42', '{"key":42}'],
    ]);
    expect((await parse('{"key":"only"}')).map((e) => e.key)).toEqual(['only']);
  });

  it('gives the event loop back between slices of a big body', async () => {
    const pauses = { n: 0 };
    const rows = Array.from({ length: 1000 }, (_, i) => ({ key: `K${i}`, note: 'z'.repeat(1000) }));
    expect(await parse(JSON.stringify(rows), 64 * 1024, pauses)).toHaveLength(1000);
    expect(pauses.n).toBeGreaterThanOrEqual(20);
  });

  it('names the row and the rule, never the value', async () => {
    expect((await refusal('[{"key":"P1"},{"key":"P2","name":Zhang San}]')).message).toBe('row 1 is not valid JSON (it starts at byte 14 of the body)');
    expect((await refusal('[{"name":"Zhang San"}]')).message).toBe('row 0 has no "key" (expected a non-empty string or a number)');
    expect((await refusal('{"key":"","name":"Zhang San"}')).message).toBe('the row has no "key" (expected a non-empty string or a number)');
  });
});

describe('commitSlices', () => {
  const event = (bytes: number) => ({ body: Buffer.alloc(bytes) });
  it('cuts by rows and by bytes, deterministically, never leaving a slice empty', () => {
    expect(commitSlices(Array.from({ length: 1201 }, () => event(10))).map((s) => s.length)).toEqual([500, 500, 201]);
    expect(commitSlices([event(600), event(600), event(2000), event(1)], 500, 1000).map((s) => s.length)).toEqual([1, 1, 1, 1]);
    expect(commitSlices([event(300), event(300), event(300), event(300)], 500, 1000).map((s) => s.length)).toEqual([3, 1]);
    expect(commitSlices([])).toEqual([]);
  });
});

describe('http.clients and http.ingest in agent.yaml', () => {
  const load = (http: string) => resolveAgentConfig(parseConfigText(`hospital: { id: h }\ndataDir: /tmp/x\nhttp:\n${http}`, 'agent.yaml', AgentConfigSchema), '/etc/wardline/agent.yaml');
  const problems = (http: string): string[] => {
    try {
      load(http);
    } catch (error) {
      return (error as { problems: string[] }).problems;
    }
    return [];
  };

  it('defaults to loopback without clients and to none with them', () => {
    expect(load('  listen: "127.0.0.1:0"').localAppCredentials).toMatchObject({ clients: [], anonymous: 'loopback', anonymousExplicit: false });
    const digest = 'a'.repeat(64);
    const withClient = load(`  clients: [{ name: app, tokenSha256: "${digest}", write: [adt] }]`);
    expect(withClient.localAppCredentials.anonymous).toBe('none');
    expect(withClient.localAppCredentials.clients[0]!.tokenDigest!.toString('hex')).toBe(digest);
    expect(load('  ingest: { maxRowDepth: 10 }').http.ingest).toEqual({ maxRowDepth: 10, maxRowBytes: 1024 * 1024 });
  });

  it('names the key of a client that cannot be identified or is allowed nothing', () => {
    expect(problems('  clients: [{ name: app, write: [adt] }]')).toEqual([
      'http.clients[0].tokenFile: expected tokenFile, tokenSha256 or certificateSha256: something to identify the application by, got nothing (agent.yaml)',
    ]);
    expect(problems(`  clients: [{ name: app, tokenSha256: "${'b'.repeat(64)}" }]`)).toEqual(['http.clients[0].read: expected at least one stream under read or write, got nothing (agent.yaml)']);
    expect(problems('  clients: [{ name: app, tokenFile: /nonexistent/token, read: [adt] }]')[0]).toMatch(/^http\.clients\[0\]\.tokenFile: cannot read \/nonexistent\/token/);
    expect(problems('  anonymousApps: lan')[0]).toMatch(/^http\.anonymousApps: /);
  });
});
