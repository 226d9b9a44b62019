// The inbound sweep (cloud-relay/inbound/inbound-expiry.ts) on a real SQLite store, with manual
// timers: it expires never-sent events past their TTL, deletes finished ones after retention,
// survives a failing sweep, and stops cleanly.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { InboundExpiry, SqliteInboundStore } from '../../cloud-relay/inbound/index.js';
import type { InboundChannelDeclaration } from '../../protocol/index.js';
import { ManualTimers } from '../support/manual-timers.js';
import { makeTempDir } from '../support/temp-dir.js';

const CHANNEL: InboundChannelDeclaration = { name: 'bookings', defaultTtlMs: 1_000, maxTtlMs: 10_000, maxBodyBytes: 1_024, contentTypes: ['json'], keyPath: '$.k', requiredFields: [] };
const DAY = 86_400_000;

describe('InboundExpiry', () => {
  const dir = makeTempDir('wardline-inbound-expiry-');
  afterEach(() => dir.remove());

  async function setup() {
    const timers = new ManualTimers();
    const store = SqliteInboundStore.open({ file: join(dir.path, `${Math.random()}.db`) });
    await store.declareChannels('h', [CHANNEL], timers.clock());
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const expiry = new InboundExpiry({ store, sweepMs: 1_000, retainFinalMs: DAY, logger, now: timers.clock, timers });
    const write = (idempotencyKey: string, ttlMs: number) =>
      store.write({ hospital: 'h', channel: 'bookings', vendor: 'v', idempotencyKey, contentType: 'json', body: Buffer.from('{"k":"p-secret"}'), key: 'p-secret', receivedAtMs: timers.clock(), expiresAtMs: timers.clock() + ttlMs });
    return { timers, store, expiry, lines, write };
  }

  /** Lets the sweep's promise chain (store calls, then the next schedule) run. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('expires never-sent events at their TTL, leaves sent ones, deletes finished ones after retention, never logs the key', async () => {
    const { timers, store, expiry, lines, write } = await setup();
    const unsent = await write('a', 1_500);
    const sent = await write('b', 1_500);
    await store.takeToSend('h', 'bookings', 1, 10, 1 << 20, timers.clock());
    expiry.start();
    timers.advance(1_000);
    await settle();
    expect((await store.get('h', unsent.kind === 'created' ? unsent.record.id : ''))!.state).toBe('waiting');
    await timers.whenArmed(1);
    timers.advance(1_000);
    await settle();
    const id = unsent.kind === 'created' ? unsent.record.id : '';
    expect((await store.get('h', id))!.state).toBe('expired');
    expect((await store.get('h', sent.kind === 'created' ? sent.record.id : ''))!.state).toBe('sent');
    expect(lines.some((l) => l.id === id && l.outcome === 'expired')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('p-secret');

    // A day later the finished event and its receipt are gone; the sent one stays.
    await timers.whenArmed(1);
    timers.advance(DAY);
    await settle();
    // Not yet: the sweep that fired ran at its due time, short of a day after the receipt.
    expect(await store.get('h', id)).toBeDefined();
    await timers.whenArmed(1);
    timers.advance(1_000);
    await settle();
    expect(await store.get('h', id)).toBeUndefined();
    expect(await store.receipts('h', 'bookings', 'v', 0, 10)).toEqual([]);
    expect(await store.get('h', sent.kind === 'created' ? sent.record.id : '')).toBeDefined();
    await expiry.stop();
    expect(timers.armed).toBe(0);
    await store.close();
  });

  it('a failing sweep is logged and the next one still runs; stop() ends the schedule', async () => {
    const { timers, store, expiry, lines } = await setup();
    expiry.start();
    await store.close();
    timers.advance(1_000);
    await settle();
    expect(lines.some((l) => l.msg === 'inbound expiry sweep failed; trying again at the next sweep')).toBe(true);
    // Scheduled again despite the failure.
    expect(timers.armed).toBe(1);
    await expiry.stop();
    expect(timers.armed).toBe(0);
    timers.advance(10_000);
    await settle();
    expect(lines.filter((l) => l.msg === 'inbound expiry sweep failed; trying again at the next sweep')).toHaveLength(1);
  });
});
