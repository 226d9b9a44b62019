// The watch with a probe that reports set figures: the one fake allowed here, since
// this machine's disk cannot be made full on demand for a unit test.
import { describe, expect, it } from 'vitest';
import { DiskBudget } from '../../agent/health/disk-budget.js';
import type { DiskProbe, DiskReading } from '../../agent/health/disk-probe.js';
import { DiskWatch } from '../../agent/health/disk-watch.js';

const GB = 1e9;

/** Reports whatever the test sets; `hang` makes the next reading never answer. */
class SetFiguresProbe implements DiskProbe {
  percent = 50;
  hang = false;
  failWith: Error | undefined;
  reads = 0;
  read(): Promise<DiskReading> {
    this.reads++;
    if (this.hang) return new Promise(() => undefined);
    if (this.failWith) return Promise.reject(this.failWith);
    return Promise.resolve({
      mount: '/data',
      filesystem: '/dev/sdb1',
      type: 'ext4',
      totalBytes: 100 * GB,
      usedBytes: this.percent * GB,
      freeBytes: (100 - this.percent) * GB,
    });
  }
}

const records: { level: string; message: string }[] = [];
const log = {
  info: (_: object, message: string) => records.push({ level: 'info', message }),
  warn: (_: object, message: string) => records.push({ level: 'warn', message }),
  error: (_: object, message: string) => records.push({ level: 'error', message }),
};

function makeWatch(probe: DiskProbe, probeTimeoutMs = 1_000) {
  let now = 1_700_000_000_000;
  const watch = new DiskWatch({
    path: '/data/wardline',
    probe,
    budget: new DiskBudget({ thresholds: { warnAtPercent: 80, criticalAtPercent: 95, hysteresisPercent: 2 } }),
    journalBytes: () => 4096,
    probeTimeoutMs,
    clock: () => (now += 10_000),
    log,
  });
  return watch;
}

describe('DiskWatch', () => {
  it('reports the reading, the state and why, and tells listeners and the log about transitions', async () => {
    const probe = new SetFiguresProbe();
    const watch = makeWatch(probe);
    const changes: string[] = [];
    watch.onStateChange((state, previous) => changes.push(`${previous} -> ${state}`));
    records.length = 0;

    await watch.sample();
    expect(watch.status()).toMatchObject({ path: '/data/wardline', mount: '/data', usedPercent: 50, state: 'ok', reason: null, journalBytes: 4096, probeError: null });
    probe.percent = 96.1;
    await watch.sample();
    expect(watch.state).toBe('critical');
    expect(watch.reason).toBe('96.1% used (threshold 95%)');
    probe.percent = 60;
    await watch.sample();
    expect(changes).toEqual(['ok -> critical', 'critical -> ok']);
    expect(records.map((r) => `${r.level} ${r.message}`)).toEqual([
      'error disk ok -> critical: 96.1% used (threshold 95%); refusing input from non-critical sources',
      'info disk critical -> ok: input accepted from every source',
    ]);
  });

  it('keeps the last state when a reading fails or never answers, says why, and logs it once', async () => {
    const probe = new SetFiguresProbe();
    const watch = makeWatch(probe, 50);
    probe.percent = 97;
    await watch.sample();
    expect(watch.state).toBe('critical');
    records.length = 0;

    probe.failWith = new Error('df: cannot read table of mounted file systems');
    await watch.sample();
    await watch.sample();
    expect(watch.state).toBe('critical');
    expect(watch.status().probeError).toMatch(/cannot read the disk holding \/data\/wardline: df: cannot read/);
    expect(records.filter((r) => r.level === 'warn')).toHaveLength(1);

    probe.failWith = undefined;
    probe.hang = true;
    await watch.sample();
    expect(watch.status().probeError).toMatch(/no answer within 50 ms/);
    const readsWhileHung = probe.reads;
    // The stuck reading is waited for again, not started a second time.
    await watch.sample();
    expect(probe.reads).toBe(readsWhileHung);
    expect(watch.state).toBe('critical');
  });
});
