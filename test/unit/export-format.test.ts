// protocol/export-format.ts: one NDJSON line per event that gives the event back
// byte for byte (the verifier and restore both read it), and the paths a client
// writing an export's parts may take.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exportEventLine, isExportPath, parseExportEventLine, toVendorEventLine, type JournalEvent } from '../../protocol/index.js';

const sha = (body: Buffer) => createHash('sha256').update(body).digest();
function event(contentType: string, body: string | Buffer, headers: Record<string, string> = {}): JournalEvent {
  return { seq: 42, stream: 's', key: 'k', op: 'upsert', tsMs: 1_700_000_000_123, source: 'src', contentType, body: Buffer.isBuffer(body) ? body : Buffer.from(body), headers };
}
const roundTrip = (e: JournalEvent) => parseExportEventLine(exportEventLine(e, sha(e.body)).slice(0, -1));

describe('export event line', () => {
  it('is the vendor line with bodySha256 before the final brace', () => {
    const e = event('hl7v2', 'MSH|^~\\&|A\rPID|1', { controlId: 'M1' });
    const line = exportEventLine(e, sha(e.body));
    expect(line).toBe(`${toVendorEventLine(e).slice(0, -2)},"bodySha256":"${sha(e.body).toString('hex')}"}\n`);
  });

  it('gives every kind of body back byte for byte', () => {
    for (const e of [
      event('hl7v2', 'MSH|^~\\&|张三\r'),
      event('hl7v2', Buffer.from([0xd5, 0xc5])),
      event('json', '{"a":1e400,"b":[1, 2 ,3],"c":"\\u00e9"}'),
      event('json', '{"pretty":\r\n true}'),
      event('json', 'not json'),
      event('blob-ref', '{"sha256":"x"}'),
      event('application/octet-stream', Buffer.from([0, 1, 2, 255])),
      { ...event('json', ''), op: 'delete' as const },
    ]) {
      const parsed = roundTrip(e);
      expect(parsed.event).toEqual(e);
      expect(parsed.bodySha256).toBe(sha(e.body).toString('hex'));
    }
  });

  it('keeps a json body with CR or LF as bodyBase64, where the vendor line would turn them into spaces', () => {
    const e = event('json', '{"a":\n1}');
    expect(exportEventLine(e, sha(e.body))).toContain(`"bodyBase64":"${e.body.toString('base64')}"`);
  });

  it('refuses a line respelled even where its values survive', () => {
    const e = event('json', '{"a":1}');
    const line = exportEventLine(e, sha(e.body)).slice(0, -1);
    expect(() => parseExportEventLine(line.replace('"seq":42', '"seq": 42'))).toThrow(/not in the export form|not exactly/);
    expect(() => parseExportEventLine(line.replace('"stream":"s"', '"stream":"\\u0073"'))).toThrow(/not in the export form|not exactly/);
    expect(() => parseExportEventLine(line.replace(/"bodySha256":"[0-9a-f]+"/, '"bodySha256":"x"'))).toThrow(/bodySha256/);
    expect(() => parseExportEventLine('{"seq":1')).toThrow(/not JSON/);
  });
});

describe('export paths', () => {
  it('takes only the fixed files, feeds/<name>.ndjson and blobs/<sha256>', () => {
    for (const ok of ['manifest.json', 'manifest.json.minisig', 'relay-signing.pub', 'SHA256SUMS', 'feeds/adt.ndjson', 'feeds/his.patient.ndjson', `blobs/${'a'.repeat(64)}`]) expect(isExportPath(ok), ok).toBe(true);
    for (const bad of ['../x', '/etc/passwd', 'feeds/../../x.ndjson', 'feeds/..ndjson', 'feeds/a/b.ndjson', `blobs/${'A'.repeat(64)}`, 'blobs/abc', 'notes.txt', 'feeds/.ndjson', '']) expect(isExportPath(bad), bad).toBe(false);
  });
});
