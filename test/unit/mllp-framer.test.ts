import { describe, expect, it } from 'vitest';
import { frameMllp, MllpFramer, MllpFrameTooLargeError } from '../../agent/hl7/index.js';

const first = Buffer.from('MSH|^~\\&|LIS|LAB|||20240105||ORU^R01|1|P|2.5\rOBX|1|ST|GLU||5.6\r');
const second = Buffer.from('MSH|^~\\&|LIS|LAB|||20240105||ORU^R01|2|P|2.5\r');
const stream = Buffer.concat([frameMllp(first), frameMllp(second)]);

function feed(framer: MllpFramer, chunks: Buffer[]): Buffer[] {
  return chunks.flatMap((chunk) => framer.push(chunk));
}

describe('MllpFramer', () => {
  it('wraps a payload in <VT> … <FS><CR>', () => {
    const framed = frameMllp(Buffer.from('MSH'));
    expect([...framed]).toEqual([0x0b, 0x4d, 0x53, 0x48, 0x1c, 0x0d]);
  });

  it('returns the same frames wherever the stream is cut once', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const frames = feed(new MllpFramer(), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(frames, `cut at ${cut}`).toEqual([first, second]);
    }
  });

  it('returns the same frames wherever the stream is cut twice', () => {
    const wrong: string[] = [];
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const frames = feed(new MllpFramer(), [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]);
        const right = frames.length === 2 && frames[0]!.equals(first) && frames[1]!.equals(second);
        if (!right) wrong.push(`${a},${b}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('reassembles a frame fed one byte at a time', () => {
    const chunks = [...stream].map((byte) => Buffer.from([byte]));
    expect(feed(new MllpFramer(), chunks)).toEqual([first, second]);
  });

  it('returns every frame of a read that holds several, in order', () => {
    const third = Buffer.from('MSH|^~\\&|LIS|LAB|||20240105||ORU^R01|3|P|2.5\r');
    const framer = new MllpFramer();
    expect(framer.push(Buffer.concat([stream, frameMllp(third)]))).toEqual([first, second, third]);
    expect(framer.hasPartialFrame).toBe(false);
  });

  it('skips junk between frames and counts it', () => {
    const noisy = Buffer.concat([
      Buffer.from('\r\n'),
      frameMllp(first),
      Buffer.from('garbage\r\n'),
      frameMllp(second),
      Buffer.from('\n'),
    ]);
    const framer = new MllpFramer();
    expect(framer.push(noisy)).toEqual([first, second]);
    expect(framer.discardedBytes).toBe(2 + 9 + 1);
  });

  it('keeps a lone <FS> inside a payload as data', () => {
    const payload = Buffer.from('MSH|a\x1cb|c\r');
    expect(new MllpFramer().push(frameMllp(payload))).toEqual([payload]);
  });

  it('reports a frame still open', () => {
    const framer = new MllpFramer();
    framer.push(frameMllp(first).subarray(0, 10));
    expect(framer.hasPartialFrame).toBe(true);
  });

  it('refuses a frame that grows past the limit without an end marker', () => {
    const framer = new MllpFramer(64);
    const big = Buffer.concat([Buffer.from([0x0b]), Buffer.alloc(40, 0x41)]);
    expect(framer.push(big)).toEqual([]);
    expect(() => framer.push(Buffer.alloc(40, 0x41))).toThrow(MllpFrameTooLargeError);
    try {
      new MllpFramer(64).push(frameMllp(Buffer.alloc(100, 0x41)));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MllpFrameTooLargeError);
      expect((err as MllpFrameTooLargeError).limitBytes).toBe(64);
    }
  });

  it('accepts frames up to exactly the limit, even when the end marker arrives split', () => {
    const payload = Buffer.alloc(64, 0x41);
    expect(new MllpFramer(64).push(frameMllp(payload))).toEqual([payload]);
    const framer = new MllpFramer(64);
    const framed = frameMllp(payload);
    expect(framer.push(framed.subarray(0, framed.length - 1))).toEqual([]);
    expect(framer.push(framed.subarray(framed.length - 1))).toEqual([payload]);
  });

  it('hands over frames completed before an oversized one in the same read, and starts clean after', () => {
    const small = Buffer.from('MSH|small');
    const framer = new MllpFramer(64);
    try {
      framer.push(Buffer.concat([frameMllp(small), Buffer.from([0x0b]), Buffer.alloc(100, 0x41)]));
      expect.unreachable();
    } catch (err) {
      expect((err as MllpFrameTooLargeError).completedFrames).toEqual([small]);
    }
    expect(framer.hasPartialFrame).toBe(false);
    expect(framer.push(frameMllp(small))).toEqual([small]);
  });
});

describe('MllpFramer segment bound', () => {
  const many = (segments: number) => Buffer.from(`MSH|^~\\&|LIS|LAB|||20240105||ORU^R01|BIG1|P|2.5\r${'ZZZ\r'.repeat(segments)}`);

  it('passes a frame within maxSegments whole', () => {
    const payload = many(9);
    expect(new MllpFramer(1 << 20, 10).pushFrames(frameMllp(payload))).toEqual([{ payload, segmentsOverLimit: false }]);
  });

  it('drops a frame over maxSegments as it arrives, keeping only its head, and goes on with the next frame', () => {
    const framer = new MllpFramer(1 << 24, 1000);
    const big = frameMllp(many(100_000));
    const frames = [];
    for (let at = 0; at < big.length; at += 65_536) {
      frames.push(...framer.pushFrames(big.subarray(at, at + 65_536)));
      // Never more than the head and one read held while dropping.
      expect(framer.bufferedBytes).toBeLessThanOrEqual(65_536 + 8192);
    }
    frames.push(...framer.pushFrames(frameMllp(first)));
    expect(frames).toHaveLength(2);
    expect(frames[0]!.segmentsOverLimit).toBe(true);
    expect(frames[0]!.payload.length).toBe(8192);
    expect(frames[0]!.payload.toString('latin1')).toMatch(/^MSH\|.*\|BIG1\|/);
    expect(frames[1]).toEqual({ payload: first, segmentsOverLimit: false });
  });

  it('counts LF-terminated segments when the frame has no CR', () => {
    const payload = Buffer.from('MSH|^~\\&|A|B\nPID|1\nOBX|1\n');
    expect(new MllpFramer(1 << 20, 2).pushFrames(frameMllp(payload))[0]!.segmentsOverLimit).toBe(true);
    expect(new MllpFramer(1 << 20, 3).pushFrames(frameMllp(payload))[0]!.segmentsOverLimit).toBe(false);
  });
});
