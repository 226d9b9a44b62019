// At a truly full disk, HTTP ingest used to answer a bare "500 internal error".
// Now it answers 507 with the reason (as the disk admission refusal does), says
// how many rows of the request were stored, and the agent goes on serving. The
// data directory sits on a real, tiny ext4 filesystem filled with ballast; where
// loop mounts are not possible the test is skipped (a full disk cannot be faked).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { postRows, startIngestAgent, type IngestAgent } from '../support/ingest-agent.js';
import { makeTempDir } from '../support/temp-dir.js';
import { mountTinyFilesystem, type TinyFilesystem } from '../support/tiny-filesystem.js';

const TINY_BYTES = 32 * 1024 * 1024;

describe('HTTP ingest at a full disk', () => {
  const dir = makeTempDir('wardline-ingest-full-');
  const mounted = mountTinyFilesystem(dir.path, TINY_BYTES);
  const tiny: TinyFilesystem | undefined = mounted.fs;
  let agent: IngestAgent;

  beforeAll(async () => {
    if (!tiny) return;
    // critical: true, so the disk admission (which refuses at 80%) lets the post reach the commit.
    agent = await startIngestAgent(dir.path, { dataDir: join(tiny.path, 'data'), http: ['critical: true'] });
  });
  afterAll(async () => {
    await agent?.stop();
    tiny?.remove();
    dir.remove();
  });

  it.skipIf(!tiny)('answers 507 with the reason, not a bare 500, and keeps what it acknowledged', async () => {
    tiny!.ballast(Number.POSITIVE_INFINITY);
    const row = (i: number) => ({ key: `FULL-${i}`, note: 'y'.repeat(64 * 1024) });
    const acknowledged: number[] = [];
    let refusal: { status: number; body: { error: { code: string; message: string; storedRows?: number } } } | undefined;
    for (let i = 0; i < 500 && refusal === undefined; i++) {
      const answer = await postRows(agent.url, 'notes', [row(i)]);
      if (answer.status === 200) acknowledged.push(i);
      else refusal = { status: answer.status, body: (await answer.json()) as never };
    }
    expect(refusal).toBeDefined();
    expect(refusal!.status).toBe(507);
    expect(refusal!.body.error.code).toBe('disk_full');
    expect(refusal!.body.error.message).toBe("the agent's disk is full: 0 of 1 rows of this request were stored, the rest were not; retry later");
    expect(refusal!.body.error.storedRows).toBe(0);
    for (const i of acknowledged) expect((await fetch(`${agent.url}/v1/records/notes/FULL-${i}`)).status).toBe(200);

    tiny!.ballast(0);
    expect((await postRows(agent.url, 'notes', [row(9_999)])).status).toBe(200);
  });
});
