import { describe, expect, it } from 'vitest';
import { toVendorEventJson, toVendorEventLine, type JournalEvent } from '../../protocol/index.js';

const event = (contentType: string, body: Buffer | string, headers: Record<string, string> = { controlId: 'M1' }): JournalEvent => ({
  seq: 7,
  stream: 'his.patient',
  key: 'P1',
  op: 'upsert',
  tsMs: Date.UTC(2024, 0, 1),
  source: 'his',
  contentType,
  body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  headers,
});

describe('toVendorEventLine', () => {
  it.each([
    ['compact json', event('json', '{"name":"李四","beds":[1,2],"ok":true,"none":null}')],
    ['a json scalar', event('json', '"text"')],
    ['hl7v2 text', event('hl7v2', 'MSH|^~\\&|LIS\rPID|1||P1')],
    ['invalid json (base64)', event('json', '{"a":')],
    ['json that is not UTF-8 (base64)', event('json', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))],
    ['binary', event('blob-ref', Buffer.from([0, 1, 2, 0xff]))],
    ['a blob-ref imaging instance', event('blob-ref', '{"sha256":"ab","studyUid":"1.2.3","sopInstanceUid":"1.2.3.4"}')],
    ['a delete without body', event('json', '')],
  ])('is JSON.stringify(toVendorEventJson()) for %s', (_name, e) => {
    expect(toVendorEventLine(e)).toBe(`${JSON.stringify(toVendorEventJson(e))}\n`);
  });

  it("serves a blob-ref event's imaging instance as JSON, so a vendor reads which study, series and instance arrived", () => {
    const json = toVendorEventJson(event('blob-ref', '{"studyUid":"1.2.3","seriesUid":"1.2.3.1","sopInstanceUid":"1.2.3.1.9"}'));
    expect(json.body).toEqual({ studyUid: '1.2.3', seriesUid: '1.2.3.1', sopInstanceUid: '1.2.3.1.9' });
    expect(json.bodyBase64).toBeUndefined();
  });

  it('serves a body nested past what JSON.stringify can recurse as its stored text, on one line', () => {
    const deep = `${'{"a":['.repeat(50_000)}1${']}'.repeat(50_000)}`;
    expect(() => JSON.stringify(toVendorEventJson(event('json', deep)))).toThrow(RangeError);
    const line = toVendorEventLine(event('json', deep));
    expect(line.endsWith(`,"headers":{"controlId":"M1"},"body":${deep}}\n`)).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect((JSON.parse(line) as { seq: number }).seq).toBe(7);
  });

  it('keeps the stored spelling of numbers and turns line breaks between tokens into spaces', () => {
    const line = toVendorEventLine(event('json', '{\r\n "id": 12345678901234567890,\n "x": 1.50, "s": "a\\nb"\n}'));
    expect(line).toContain('"body":{   "id": 12345678901234567890,  "x": 1.50, "s": "a\\nb" }}\n');
    expect(line.split('\n')).toHaveLength(2);
    expect((JSON.parse(line) as { body: unknown }).body).toEqual({ id: 12345678901234567890, x: 1.5, s: 'a\nb' });
  });
});
