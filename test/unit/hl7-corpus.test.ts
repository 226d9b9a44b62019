import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { isValidResidentId, residentIdSex } from '../../simulator/chinese-identity.js';
import {
  Hl7Corpus,
  MAX_MESSAGE_BYTES,
  MIN_MESSAGE_BYTES,
  escapeHl7,
  type CorpusMessage,
} from '../../simulator/hl7-corpus.js';

// Just enough HL7 reading for the assertions; the agent has the real parser.
function segments(text: string): string[][] {
  return text.split('\r').filter((s) => s.length > 0).map((s) => s.split('|'));
}
function first(text: string, id: string): string[] {
  const found = segments(text).find((f) => f[0] === id);
  if (!found) throw new Error(`no ${id} segment`);
  return found;
}
function all(text: string, id: string): string[][] {
  return segments(text).filter((f) => f[0] === id);
}
/** MSH-n: MSH-1 is the field separator itself, so MSH fields sit one index lower. */
function msh(text: string, n: number): string {
  return first(text, 'MSH')[n - 1] ?? '';
}
function components(field: string | undefined): string[] {
  return (field ?? '').split('~')[0]!.split('^');
}
function unescape(text: string): string {
  const map: Record<string, string> = { F: '|', S: '^', R: '~', T: '&', E: '\\' };
  return text.replace(/\\([FSRTE])\\/g, (_, k: string) => map[k]!);
}

function corpus(seed: string | number, count: number, gb18030Share?: number): CorpusMessage[] {
  const c = new Hl7Corpus({ seed, ...(gb18030Share === undefined ? {} : { gb18030Share }) });
  return Array.from({ length: count }, () => c.next());
}

const messages = corpus('corpus-test', 3000);

describe('Hl7Corpus', () => {
  it('mixes ADT A01/A04/A08, ORU^R01 and ORM^O01 into their streams', () => {
    const types = new Map<string, number>();
    for (const m of messages) types.set(m.messageType, (types.get(m.messageType) ?? 0) + 1);
    expect([...types.keys()].sort()).toEqual(['ADT^A01', 'ADT^A04', 'ADT^A08', 'ORM^O01', 'ORU^R01']);
    expect(types.get('ORU^R01')! / messages.length).toBeGreaterThan(0.3);
    for (const m of messages) {
      const expected = m.messageType.startsWith('ADT') ? 'adt' : m.messageType.startsWith('ORU') ? 'results' : 'orders';
      expect(m.stream).toBe(expected);
      const [type, event] = components(msh(m.text, 9));
      expect(`${type}^${event}`).toBe(m.messageType);
      expect(msh(m.text, 3)).toBe(m.sendingApplication);
      expect(m.sendingApplication).toBe(m.stream === 'results' ? 'LIS' : 'HIS');
      expect(msh(m.text, 4)).toBe('WARDLINE-DEMO-HOSPITAL');
      expect(msh(m.text, 5)).toBe('WARDLINE');
      expect(msh(m.text, 7)).toMatch(/^\d{14}\+0800$/);
      expect(msh(m.text, 11)).toBe('P');
    }
  });

  it('puts each key where the agent maps it: PID-3.1, OBR-3.1, ORC-2.1', () => {
    for (const m of messages) {
      if (m.stream === 'adt') expect(components(first(m.text, 'PID')[3])[0]).toBe(m.key);
      if (m.stream === 'results') expect(components(first(m.text, 'OBR')[3])[0]).toBe(m.key);
      if (m.stream === 'orders') expect(components(first(m.text, 'ORC')[2])[0]).toBe(m.key);
      expect(m.key).toMatch(/^\d+$/);
    }
  });

  it('gives every message a unique MSH-10 equal to controlId', () => {
    for (const m of messages) expect(msh(m.text, 10)).toBe(m.controlId);
    expect(new Set(messages.map((m) => m.controlId)).size).toBe(messages.length);
    expect(messages.every((m) => m.controlId.length <= 20)).toBe(true);
    // A different seed never reuses control ids, so two demo runs do not look like retransmissions.
    const other = new Set(corpus('another-seed', 200).map((m) => m.controlId));
    expect(messages.slice(0, 200).some((m) => other.has(m.controlId))).toBe(false);
  });

  it('keeps sizes between 0.5 and 5 KB with both ends represented', () => {
    const sizes = messages.map((m) => m.bytes.length);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(MIN_MESSAGE_BYTES);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(sizes.filter((s) => s < 1024).length / sizes.length).toBeGreaterThan(0.2);
    expect(sizes.filter((s) => s > 3.5 * 1024).length).toBeGreaterThan(30);
    const oru = messages.filter((m) => m.stream === 'results').map((m) => m.bytes.length);
    expect(Math.max(...oru)).toBeGreaterThan(4.5 * 1024);
  });

  it('encodes per MSH-18 and round-trips GB18030 through iconv to the same text', () => {
    const gb = messages.filter((m) => m.charset === 'GB 18030-2000');
    expect(gb.length / messages.length).toBeGreaterThan(0.15);
    expect(gb.length / messages.length).toBeLessThan(0.25);
    for (const m of messages) {
      expect(msh(m.text, 18)).toBe(m.charset);
      if (m.charset === 'GB 18030-2000') {
        expect(iconv.decode(m.bytes, 'gb18030')).toBe(m.text);
        // Chinese text is two bytes a character in GB18030, three in UTF-8.
        expect(m.bytes.length).toBeLessThan(Buffer.byteLength(m.text, 'utf8'));
      } else {
        expect(m.bytes.toString('utf8')).toBe(m.text);
      }
    }
    expect(corpus('no-gb', 300, 0).every((m) => m.charset === 'UNICODE UTF-8')).toBe(true);
  });

  it('separates segments with CR only and uses HL7 2.5 and 2.4', () => {
    for (const m of messages) {
      expect(m.text).not.toMatch(/\n/);
      expect(m.text.endsWith('\r')).toBe(true);
      for (const f of segments(m.text)) expect(f[0]).toMatch(/^[A-Z][A-Z0-9]{2}$/);
      expect(msh(m.text, 2)).toBe('^~\\&');
    }
    const versions = new Set(messages.map((m) => msh(m.text, 12)));
    expect([...versions].sort()).toEqual(['2.4', '2.5']);
  });

  it('carries the patient identifiers in PID and the visit number in PV1-19', () => {
    for (const m of messages) {
      const pid = first(m.text, 'PID');
      const ids = pid[3]!.split('~').map((r) => r.split('^'));
      expect(ids[0]![4]).toBe('MR');
      expect(ids[1]![4]).toBe('NNCHN');
      const residentId = ids[1]![0]!;
      expect(isValidResidentId(residentId)).toBe(true);
      expect(pid[7]).toBe(residentId.slice(6, 14));
      expect(pid[8]).toBe(residentIdSex(residentId));
      expect(components(pid[5])[0]).toMatch(/^[\u4e00-\u9fff]{1,2}$/);
      expect(components(pid[13])[0]).toMatch(/^1\d{10}$/);
      expect(components(pid[11])[3]).toMatch(/(省|市|自治区)$/);
      expect(components(first(m.text, 'PV1')[19])[0]).toMatch(/^(ZY\d{10}|MZ\d{13}|JZ\d{13})$/);
    }
  });

  it('sends results of 3–15 OBX with units, reference ranges and abnormal flags', () => {
    const results = messages.filter((m) => m.stream === 'results');
    let abnormal = 0;
    for (const m of results) {
      const obx = all(m.text, 'OBX');
      expect(obx.length).toBeGreaterThanOrEqual(3);
      expect(obx.length).toBeLessThanOrEqual(15);
      for (const f of obx) {
        expect(['NM', 'ST']).toContain(f[2]);
        if (f[2] === 'NM') expect(Number.isFinite(Number(f[5]))).toBe(true);
        expect(['N', 'H', 'L', 'HH', 'LL', 'A']).toContain(f[8]);
        expect(['P', 'F', 'C']).toContain(f[11]);
        if (f[8] !== 'N') abnormal++;
      }
    }
    expect(abnormal).toBeGreaterThan(0);
    const cbc = results.find((m) => components(first(m.text, 'OBR')[4])[1] === '血常规')!;
    const wbc = all(cbc.text, 'OBX').find((f) => components(f[3])[0] === 'WBC')!;
    // 10^9/L contains the component separator, so it travels escaped.
    expect(wbc[6]).toBe('10\\S\\9/L');
    expect(unescape(wbc[6]!)).toBe('10^9/L');
    expect(wbc[7]).toBe('3.5-9.5');
  });

  it('keeps calculated results consistent with the measured ones', () => {
    const value = (m: CorpusMessage, code: string): number | undefined => {
      const f = all(m.text, 'OBX').find((o) => components(o[3])[0] === code);
      return f ? Number(f[5]) : undefined;
    };
    const results = messages.filter((m) => m.stream === 'results');
    const cbcs = results.filter((m) => value(m, 'WBC') !== undefined);
    expect(cbcs.length).toBeGreaterThan(50);
    for (const m of cbcs) {
      const differential = ['NEUT%', 'LYMPH%', 'MONO%', 'EO%', 'BASO%'].reduce((s, k) => s + value(m, k)!, 0);
      expect(differential).toBeCloseTo(100, 0);
      expect(value(m, 'HCT')!).toBeCloseTo((value(m, 'RBC')! * value(m, 'MCV')!) / 10, 0);
    }
    for (const m of results.filter((r) => value(r, 'TP') !== undefined)) {
      expect(value(m, 'ALB')! + value(m, 'GLB')!).toBeCloseTo(value(m, 'TP')!, 0);
    }
  });

  it('escapes delimiters in free text so that splitting never breaks a field', () => {
    const notes = messages.flatMap((m) => all(m.text, 'NTE'));
    for (const f of notes) expect(f.length).toBeLessThanOrEqual(4);
    const texts = notes.map((f) => unescape(f[3] ?? ''));
    expect(texts.some((t) => t.includes('&'))).toBe(true);
    expect(texts.some((t) => t.includes('~'))).toBe(true);
    expect(texts.some((t) => t.includes('|'))).toBe(true);
    expect(texts.some((t) => t.includes('\\'))).toBe(true);
  });

  it('updates the same records again, so the latest version matters', () => {
    const count = (filter: (m: CorpusMessage) => boolean): number => {
      const keys = new Map<string, number>();
      for (const m of messages.filter(filter)) keys.set(m.key, (keys.get(m.key) ?? 0) + 1);
      return Math.max(...keys.values());
    };
    expect(count((m) => m.stream === 'adt')).toBeGreaterThanOrEqual(3);
    expect(count((m) => m.messageType === 'ADT^A08')).toBeGreaterThanOrEqual(2);
    expect(count((m) => m.stream === 'results')).toBeGreaterThanOrEqual(2);
    expect(count((m) => m.stream === 'orders')).toBeGreaterThanOrEqual(2);
    // A08 is only sent for a patient registered earlier in the stream.
    const registered = new Set<string>();
    for (const m of messages) {
      if (m.messageType === 'ADT^A08') expect(registered.has(m.key)).toBe(true);
      if (m.messageType === 'ADT^A01' || m.messageType === 'ADT^A04') registered.add(m.key);
    }
  });

  it('is deterministic for a seed', () => {
    const a = corpus(42, 300);
    const b = corpus(42, 300);
    expect(a.map((m) => m.bytes.toString('base64'))).toEqual(b.map((m) => m.bytes.toString('base64')));
    expect(corpus(43, 300).map((m) => m.text)).not.toEqual(a.map((m) => m.text));
  });

  it('emits JSON rows for appointments and his.patient, each with a key', () => {
    const make = () => {
      const c = new Hl7Corpus({ seed: 'json' });
      for (let i = 0; i < 50; i++) c.next();
      return Array.from({ length: 400 }, () => c.nextJsonRow());
    };
    const rows = make();
    expect(new Set(rows.map((r) => r.stream))).toEqual(new Set(['appointments', 'his.patient']));
    for (const { stream, row } of rows) {
      expect(typeof row.key).toBe('string');
      if (stream === 'his.patient') {
        expect(row.key).toBe(row['mrn']);
        expect(isValidResidentId(row['residentId'] as string)).toBe(true);
      } else {
        expect(row.key).toBe(row['appointmentId']);
        expect(['booked', 'checked-in', 'cancelled']).toContain(row['status']);
      }
    }
    const appointmentKeys = rows.filter((r) => r.stream === 'appointments').map((r) => r.row.key);
    expect(new Set(appointmentKeys).size).toBeLessThan(appointmentKeys.length);
    expect(make()).toEqual(rows);
  });
});

describe('escapeHl7', () => {
  it('escapes every delimiter, the escape character first', () => {
    expect(escapeHl7('a|b^c~d\\e&f')).toBe('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f');
    expect(unescape(escapeHl7('10^9/L & 3.5~9.5 | C:\\LIS'))).toBe('10^9/L & 3.5~9.5 | C:\\LIS');
    expect(escapeHl7('line\r\nbreak')).toBe('line break');
  });
});
