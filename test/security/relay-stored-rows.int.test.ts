// The relay must never fail a page on a stored event. A JSON row nested
// thousands of levels deep, written straight into the relay's store (as an agent
// without an ingest depth bound would have sent it), used to break every HTTP
// page holding it, for good: the vendor's cursor could never pass it. Against a
// real relay process: the page is served whole (JSON.stringify gives up near
// 4,170 levels from a shallow stack, fewer from a deep one), the deep body is the stored text,
// the cursor moves on, and gRPC serves the same rows.
import { status as Status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp-dir.js';
import { RH_FEED, RH_READER_KEY, SeededRelay, jsonEvent, relayDir } from '../support/seeded-relay.js';
import { NEXT_AFTER_HEADER } from '../../cloud-relay/index.js';

const deepArray = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const deepObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe('relay feed pages serve every stored row', () => {
  const dir = makeTempDir('wardline-relay-rows-');
  afterAll(() => dir.remove());

  it('serves a page holding JSON rows 4,111 and 100,000 levels deep, whole and in order, and the cursor passes them', async () => {
    const rows = [
      jsonEvent(1, 100),
      jsonEvent(2, 0, { body: Buffer.from(deepArray(4_111)) }),
      jsonEvent(3, 0, { body: Buffer.from(deepObject(100_000)) }),
      jsonEvent(4, 0, { body: Buffer.from('{\n  "id": 12345678901234567890,\r\n  "text": "line\\nbreak"\n}') }),
      jsonEvent(5, 100),
    ];
    const relay = await SeededRelay.start(relayDir(dir.path, 'deep'), { events: rows });
    try {
      const response = await fetch(`${relay.httpBase}/v1/feeds/${RH_FEED}/events?after=0`, { headers: { authorization: `Bearer ${RH_READER_KEY}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get(NEXT_AFTER_HEADER)).toBe('5');
      const text = await response.text();
      const lines = text.trimEnd().split('\n');
      expect(lines).toHaveLength(5);
      const events = lines.map((line) => JSON.parse(line) as { seq: number; contentType: string; body?: unknown; bodyBase64?: string; headers: object });
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      // The deep bodies are the stored text, as JSON values (not base64).
      expect(lines[1]!.endsWith(`,"headers":{},"body":${deepArray(4_111)}}`)).toBe(true);
      expect(lines[2]!.endsWith(`,"headers":{},"body":${deepObject(100_000)}}`)).toBe(true);
      expect(events[1]).toMatchObject({ contentType: 'json', headers: {} });
      // Line breaks between tokens become spaces (one line per event); the big integer keeps its digits.
      expect(lines[3]).toContain('"body":{   "id": 12345678901234567890,    "text": "line\\nbreak" }');
      expect(events[3]!.body).toEqual({ id: 12345678901234567890, text: 'line\nbreak' });
      expect(events[4]!.body).toEqual(JSON.parse(rows[4]!.body.toString()));

      const next = await fetch(`${relay.httpBase}/v1/feeds/${RH_FEED}/events?after=2`, { headers: { authorization: `Bearer ${RH_READER_KEY}` } });
      expect((await next.text()).trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([3, 4, 5]);

      const subscription = relay.subscribe(relay.feedsClient(), RH_READER_KEY, { feed: RH_FEED });
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) seqs.push(Number((await subscription.next(10_000)).event!.seq));
      expect(seqs).toEqual([1, 2, 3, 4, 5]);
      expect((await subscription.status).code).toBe(Status.OK);
    } finally {
      await relay.stop();
    }
  });
});
