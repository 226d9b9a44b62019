// What a hostile or broken local application can post, and what it gets back.
//  - A row nested 4,111 levels deep used to be accepted and then blocked the
//    relay's HTTP feed for good; deeper rows got a 500. Now: 400 naming the depth
//    limit, whatever the depth, and nothing is journaled.
//  - A row over the size limit: 400 naming the limit.
//  - A rejected body's text (a patient's name) used to appear in the answer, in
//    /v1/status and on the dashboard: reasons now name the field and the rule only.
//  - A malformed percent-encoding in a record key gave 500 and an error log line
//    holding the key: now 400, and the key is in no log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postRows, startIngestAgent, type IngestAgent } from '../support/ingest-agent.js';
import { makeTempDir } from '../support/temp-dir.js';

const NAME = 'Zhang San';
const RESIDENT_ID = '110105199001011234';

const nested = (levels: number): string => `{"key":"DEEP-${levels}","a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;

interface ErrorAnswer {
  error: { code: string; message: string };
}

describe('ingest body bounds and rejection texts', () => {
  const dir = makeTempDir('wardline-ingest-limits-');
  let agent: IngestAgent;

  beforeAll(async () => {
    agent = await startIngestAgent(dir.path);
  });
  afterAll(async () => {
    await agent?.stop();
    dir.remove();
  });

  const headSeq = async (): Promise<number> => ((await (await fetch(`${agent.url}/v1/status`)).json()) as { journal: { headSeq: number } }).journal.headSeq;

  it('refuses a row 4,111 levels deep, and one 200,000 deep, with 400 naming the depth limit', async () => {
    const before = await headSeq();
    for (const levels of [4_111, 200_000]) {
      const answer = await postRows(agent.url, 'notes', `[${nested(levels)}]`);
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as ErrorAnswer).error.message).toBe('row 0 is nested deeper than 64 levels (http.ingest.maxRowDepth)');
    }
    expect((await postRows(agent.url, 'notes', nested(64))).status).toBe(200);
    expect(await headSeq()).toBe(before + 1);
  });

  it('refuses a row over the size limit with 400 naming it', async () => {
    const answer = await postRows(agent.url, 'notes', [{ key: 'SMALL' }, { key: 'BIG', note: 'x'.repeat(1024 * 1024) }]);
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as ErrorAnswer).error.message).toBe('row 1 is larger than 1048576 bytes (http.ingest.maxRowBytes)');
    expect((await fetch(`${agent.url}/v1/records/notes/SMALL`)).status).toBe(404);
  });

  it('never puts a rejected body, header or parameter in the answer, status or dashboard feed', async () => {
    const attempts: Array<() => Promise<Response>> = [
      () => postRows(agent.url, 'adt', `{"key":"${RESIDENT_ID}","name":${NAME}}`),
      () => postRows(agent.url, 'adt', `[{"key":"${RESIDENT_ID}","name":"${NAME}"}, ${NAME}]`),
      () => postRows(agent.url, 'adt', `"${NAME}"`),
      () => fetch(`${agent.url}/v1/ingest/adt`, { method: 'POST', headers: { 'content-type': `text/${RESIDENT_ID}` }, body: NAME }),
      () => fetch(`${agent.url}/v1/ingest/adt?op=${RESIDENT_ID}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    ];
    for (const attempt of attempts) {
      const answer = await attempt();
      expect(answer.status).toBeGreaterThanOrEqual(400);
      const text = await answer.text();
      expect(text).not.toContain('Zhang');
      expect(text).not.toContain(RESIDENT_ID);
      const status = await (await fetch(`${agent.url}/v1/status`)).text();
      expect(status).not.toContain('Zhang');
      expect(status).not.toContain(RESIDENT_ID);
    }
    const status = (await (await fetch(`${agent.url}/v1/status`)).json()) as { sources: Array<{ name: string; lastRejection: { reason: string } | null }> };
    expect(status.sources.find((s) => s.name === 'http')!.lastRejection!.reason).toBe('query parameter op must be upsert or delete');
    expect(agent.log()).not.toContain('Zhang');
  });

  it('answers a malformed percent-encoding in a record key with 400, and logs no key', async () => {
    const answer = await fetch(`${agent.url}/v1/records/adt/${RESIDENT_ID}%E0%A4%A`);
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as ErrorAnswer).error.code).toBe('bad_key');
    const missing = await fetch(`${agent.url}/v1/records/adt/${RESIDENT_ID}`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).not.toContain(RESIDENT_ID);
    expect(agent.log()).not.toContain(RESIDENT_ID);
  });
});
