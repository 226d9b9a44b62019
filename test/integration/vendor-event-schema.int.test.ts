// The published JSON Schema of one HTTP event line (protocol/schema/feed-event.schema.json),
// fetched from a real relay as a vendor would (GET /v1/schema/feed-event.json, no key),
// validates every line the relay serves for every content type — hl7v2, json, blob-ref,
// another content type as bodyBase64, a json row that does not parse, deletes — and
// refuses lines damaged the ways a vendor's own code might damage them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAME_PATTERN, type JournalEvent } from '../../protocol/index.js';
import { blobRefEvent, makeInstance } from '../support/blob-instance.js';
import { TestRelay, VENDOR_KEYS, connectAgent, makeBatch, makeEvent, putInstance } from './relay-harness.js';

// ajv is CommonJS: under Node's ESM interop its class is the module's default export.
const Ajv2020 = ajv2020.default;

const INSTANCE = makeInstance(2_000, 'vendor-event-schema');
const SCHEMA_FILE = join(import.meta.dirname, '../../protocol/schema/feed-event.schema.json');

describe('the feed event JSON Schema', () => {
  const relay = new TestRelay();
  const events: JournalEvent[] = [
    makeEvent(1, { headers: { controlId: 'MSG1', messageType: 'ADT^A01', charset: 'UNICODE UTF-8' } }),
    makeEvent(2, { stream: 'his.patient', key: 'P2', source: 'his-http', contentType: 'json', body: Buffer.from('{"id":"P2","n":[1,2.5,null,true],"big":12345678901234567890}'), headers: {} }),
    { ...blobRefEvent(3, INSTANCE), headers: { modality: INSTANCE.body.modality } },
    makeEvent(4, { stream: 'docs', key: 'D4', source: 'his-http', contentType: 'application/pdf', body: Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff]), headers: { filename: 'r.pdf' } }),
    // A json row that is not JSON (damaged at the source): served as its bytes.
    makeEvent(5, { stream: 'his.patient', key: 'P5', source: 'his-http', contentType: 'json', body: Buffer.from('{"id": "P5",'), headers: {} }),
    makeEvent(6, { stream: 'his.patient', key: 'P2', source: 'his-http', op: 'delete', contentType: 'json', body: Buffer.alloc(0), headers: {} }),
    makeEvent(7, { op: 'delete', body: Buffer.alloc(0), headers: { controlId: 'MSG7' } }),
    // An empty-bodied other type: base64 of nothing.
    makeEvent(8, { stream: 'docs', key: 'D8', contentType: 'application/octet-stream', body: Buffer.alloc(0), headers: {} }),
  ];
  let lines: Record<string, unknown>[] = [];
  let validate: ReturnType<InstanceType<typeof Ajv2020>['compile']>;
  let served: { status: number; contentType: string | null; text: string };

  beforeAll(async () => {
    await relay.start();
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    await putInstance(stream, 'adt', INSTANCE);
    expect((await stream.exchange(makeBatch('adt', 1, 8, events))).body).toBe('ack');

    // As a vendor would: the schema from the relay, without a key.
    const response = await fetch(`${relay.httpBase}/v1/schema/feed-event.json`);
    served = { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
    // Ajv's defaults, strict schema checking included: a keyword it does not know (such as a format
    // without ajv-formats) would fail the compile here, as it would for a vendor.
    validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(served.text) as object);
    const page = await fetch(`${relay.httpBase}/v1/feeds/adt/events?after=0`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
    expect(page.status).toBe(200);
    lines = (await page.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  });

  afterAll(async () => {
    await relay.close();
  });

  const errorsOf = (line: unknown) => (validate(line) ? [] : (validate.errors ?? []).map((e: { instancePath: string; message?: string }) => `${e.instancePath || '/'} ${e.message ?? ''}`));

  it('is served without a key as application/schema+json, the same document as the published file', () => {
    expect(served.status).toBe(200);
    expect(served.contentType).toBe('application/schema+json');
    expect(JSON.parse(served.text)).toEqual(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
    const schema = JSON.parse(served.text) as { $schema: string; properties: Record<string, { pattern?: string }> };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    // The names' rule is the relay's own, not a copy that drifted.
    expect(schema.properties.hospital!.pattern).toBe(NAME_PATTERN.source);
    expect(schema.properties.feed!.pattern).toBe(NAME_PATTERN.source);
  });

  it('validates every line served: each content type, a damaged json row, deletes, an empty body', () => {
    expect(lines.map((line) => [line.seq, line.contentType, 'body' in line ? 'body' : 'bodyBase64'])).toEqual([
      [1, 'hl7v2', 'body'],
      [2, 'json', 'body'],
      [3, 'blob-ref', 'body'],
      [4, 'application/pdf', 'bodyBase64'],
      [5, 'json', 'bodyBase64'],
      [6, 'json', 'bodyBase64'],
      [7, 'hl7v2', 'body'],
      [8, 'application/octet-stream', 'bodyBase64'],
    ]);
    for (const line of lines) expect([line.seq, errorsOf(line)]).toEqual([line.seq, []]);
  });

  it('refuses a line missing seq, with op "OP_UPSERT", or damaged in other ways a consumer could', () => {
    const hl7 = lines[0]!;
    const pdf = lines[3]!;
    const without = (line: Record<string, unknown>, field: string) => Object.fromEntries(Object.entries(line).filter(([key]) => key !== field));
    expect(errorsOf(without(hl7, 'seq'))).toEqual(["/ must have required property 'seq'"]);
    expect(errorsOf({ ...hl7, op: 'OP_UPSERT' })).toEqual(['/op must be equal to one of the allowed values']);
    const damaged: [string, Record<string, unknown>][] = [
      ['seq as text', { ...hl7, seq: '1' }],
      ['seq 0', { ...hl7, seq: 0 }],
      ['no prevSeq', without(hl7, 'prevSeq')],
      ['ts as epoch ms', { ...hl7, ts: Date.parse(hl7.ts as string) }],
      ['ts without ms', { ...hl7, ts: '2024-01-01T08:00:01Z' }],
      ['tsMs added', { ...hl7, tsMs: 1 }],
      ['both bodies', { ...hl7, bodyBase64: 'AA==' }],
      ['no body', without(hl7, 'body')],
      ['hl7v2 body as JSON', { ...hl7, body: { text: hl7.body } }],
      ['bytes as body', { ...without(pdf, 'bodyBase64'), body: 'JVBERg==' }],
      ['bodyBase64 not base64', { ...pdf, bodyBase64: 'not base64!' }],
      ['a header not text', { ...hl7, headers: { controlId: 1 } }],
      ['hospital with a slash', { ...hl7, hospital: 'h/1' }],
    ];
    for (const [what, line] of damaged) expect([what, validate(line)]).toEqual([what, false]);
  });
});
