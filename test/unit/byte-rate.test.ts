import { describe, expect, it } from 'vitest';
import { formatByteRate, InvalidRateError, parseByteRate } from '../../agent/bandwidth/index.js';

describe('parseByteRate', () => {
  it.each([
    ['20Mbit/s', 2_500_000],
    ['20 Mbit/s', 2_500_000],
    ['100Mbps', 12_500_000],
    ['8kbit/s', 1_000],
    ['8Kbit/s', 1_000],
    ['1Gbit/s', 125_000_000],
    ['2.5MB/s', 2_500_000],
    ['200kB/s', 200_000],
    ['200KB/s', 200_000],
    ['512KiB/s', 512 * 1024],
    ['1.5 MiB/s', 1.5 * 1024 * 1024],
    ['1GiB/s', 1024 ** 3],
    ['8Mibit/s', 1024 ** 2],
    ['250000', 250_000],
    ['64B/s', 64],
    [' 3 MB/s ', 3_000_000],
  ])('reads %j as %d bytes/s', (text, expected) => {
    expect(parseByteRate(text)).toBe(expected);
  });

  it('takes a plain number as bytes per second', () => {
    expect(parseByteRate(250_000)).toBe(250_000);
    expect(parseByteRate(1.5)).toBe(1.5);
  });

  it('reads "unlimited" in any case as null', () => {
    expect(parseByteRate('unlimited')).toBeNull();
    expect(parseByteRate('Unlimited')).toBeNull();
  });

  it('refuses a unit where a single letter decides between bits and bytes', () => {
    expect(() => parseByteRate('20Mb/s')).toThrow('"20Mb/s" is ambiguous: write "20Mbit/s" (bits) or "20MB/s" (bytes)');
    expect(() => parseByteRate('20MBps')).toThrow(/ambiguous/);
    expect(() => parseByteRate('512kb/s')).toThrow(/"512kbit\/s" \(bits\) or "512kB\/s" \(bytes\)/);
  });

  it('refuses a size where a rate is expected, unknown units, and nonsense, saying what it expected', () => {
    expect(() => parseByteRate('2MB')).toThrow('"2MB" is a size, not a rate: add "/s"');
    expect(() => parseByteRate('20 furlongs/s')).toThrow(/unknown unit "furlongs\/s": expected a rate such as "20Mbit\/s"/);
    expect(() => parseByteRate('20 mbit/s')).toThrow(/unknown unit "mbit\/s"/);
    expect(() => parseByteRate('fast')).toThrow(InvalidRateError);
    expect(() => parseByteRate('')).toThrow(InvalidRateError);
    expect(() => parseByteRate('-5MB/s')).toThrow(InvalidRateError);
  });

  it('refuses zero and rates below one byte per second (stopping a class is the timetable’s job)', () => {
    expect(() => parseByteRate(0)).toThrow(/at least 1 byte\/s/);
    expect(() => parseByteRate('0MB/s')).toThrow(/at least 1 byte\/s/);
    expect(() => parseByteRate('4bit/s')).toThrow(/at least 1 byte\/s/);
    expect(() => parseByteRate(Number.NaN)).toThrow(InvalidRateError);
    expect(() => parseByteRate(Number.POSITIVE_INFINITY)).toThrow(InvalidRateError);
  });
});

describe('formatByteRate', () => {
  it('shows bytes and bits, decimal prefixes, three significant digits', () => {
    expect(formatByteRate(2_500_000)).toBe('2.5 MB/s (20 Mbit/s)');
    expect(formatByteRate(200_000)).toBe('200 kB/s (1.6 Mbit/s)');
    expect(formatByteRate(500)).toBe('500 B/s (4 kbit/s)');
    expect(formatByteRate(123_456_789)).toBe('123 MB/s (988 Mbit/s)');
    expect(formatByteRate(null)).toBe('unlimited');
  });

  it('reads back what it writes', () => {
    for (const rate of [64, 200_000, 2_500_000, 125_000_000]) {
      expect(parseByteRate(formatByteRate(rate).split(' (')[0]!.replace(' ', ''))).toBe(rate);
    }
  });
});
