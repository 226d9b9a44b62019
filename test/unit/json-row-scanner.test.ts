import { describe, expect, it } from 'vitest';
import { RowScanError, scanJsonRows, type RowScanLimits } from '../../agent/sources/http-ingest/json-row-scanner.js';

const LIMITS: RowScanLimits = { maxRowDepth: 8, maxRowBytes: 200, maxRows: 5 };

function rows(text: string, limits = LIMITS, slice = 1 << 20): string[] {
  const body = Buffer.from(text, 'utf8');
  const out: string[] = [];
  for (const span of scanJsonRows(body, limits, slice)) if (span) out.push(body.toString('utf8', span.start, span.end));
  return out;
}

function refusal(text: string, limits = LIMITS): RowScanError {
  try {
    rows(text, limits);
  } catch (error) {
    if (error instanceof RowScanError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('scanJsonRows', () => {
  it('splits an array into its rows and takes a single object as one row', () => {
    expect(rows(' [ {"key":"a","n":[1,{"x":"]}"}]} , {"key":2} ] \n')).toEqual(['{"key":"a","n":[1,{"x":"]}"}]}', '{"key":2}']);
    expect(rows('{"key":"a","s":"quote \\" and \\\\"}')).toEqual(['{"key":"a","s":"quote \\" and \\\\"}']);
    expect(rows('[{"key":"张三"}]')).toEqual(['{"key":"张三"}']);
  });

  it('names the depth limit for a row nested too deep, whatever its depth', () => {
    const deep = (n: number): string => `[${'{"a":'.repeat(n)}1${'}'.repeat(n)}]`;
    expect(rows(deep(8))).toHaveLength(1);
    const error = refusal(deep(9));
    expect(error.rule).toBe('depth');
    expect(error.httpStatus).toBe(400);
    expect(error.message).toBe('row 0 is nested deeper than 8 levels (http.ingest.maxRowDepth)');
    expect(refusal(`${'['.repeat(4111)}${']'.repeat(4111)}`).rule).toBe('shape');
    expect(refusal(`{"key":1,"a":${'['.repeat(4111)}${']'.repeat(4111)}}`).message).toBe('the row is nested deeper than 8 levels (http.ingest.maxRowDepth)');
  });

  it('names the size limit for a row too large, also when the bytes are in one string', () => {
    const error = refusal(`[{"key":1},{"key":2,"note":"${'x'.repeat(300)}"}]`);
    expect(error.rule).toBe('row_size');
    expect(error.message).toBe('row 1 is larger than 200 bytes (http.ingest.maxRowBytes)');
    expect(refusal(`[{"key":2,${'"a":1,'.repeat(60)}"b":1}]`).rule).toBe('row_size');
    expect(rows(`[{"key":2,"note":"${'x'.repeat(180)}"}]`)).toHaveLength(1);
  });

  it('refuses more rows than allowed with 413', () => {
    const error = refusal(`[${Array.from({ length: 6 }, (_, i) => `{"key":${i}}`).join(',')}]`);
    expect(error.httpStatus).toBe(413);
    expect(error.message).toBe('body holds more than 5 rows; at most 5 per request');
  });

  it('says where malformed text is, never what it says', () => {
    const cases = ['', '   ', '"Zhang San"', '[{"key":1} {"key":2}]', '[{"key":1},,{"key":2}]', '[{"key":1},]', '[{"key":"Zhang San"', '{"key":1} Zhang San', '["Zhang San"]', '[]'];
    for (const text of cases) {
      const error = refusal(text);
      expect(error.httpStatus).toBe(400);
      expect(error.message).not.toMatch(/Zhang/);
    }
    expect(refusal('[]').message).toBe('body is an empty array: nothing to ingest');
    expect(refusal('[{"key":1} {"key":2}]').message).toBe('body is not valid JSON: expected "," or "]" after row 0, at byte 11');
  });

  it('pauses after every slice of bytes', () => {
    const body = Buffer.from(`[${Array.from({ length: 5 }, (_, i) => `{"key":${i},"note":"${'y'.repeat(100)}"}`).join(',')}]`);
    const items = [...scanJsonRows(body, LIMITS, 64)];
    expect(items.filter((x) => x === null).length).toBeGreaterThanOrEqual(4);
    expect(items.filter((x) => x !== null)).toHaveLength(5);
  });
});
