import { describe, expect, it } from 'vitest';
import { PartLifecycle } from '../../runtime/index.js';

function recorder() {
  const events: string[] = [];
  const part = (name: string, options: { failStart?: boolean; failStop?: boolean } = {}) => ({
    name,
    start: async () => {
      events.push(`start ${name}`);
      if (options.failStart) throw new Error(`${name} cannot start`);
      return name.length;
    },
    stop: async () => {
      events.push(`stop ${name}`);
      if (options.failStop) throw new Error(`${name} cannot stop`);
    },
  });
  return { events, part };
}

describe('PartLifecycle', () => {
  it('stops in the reverse of the start order, held parts included', async () => {
    const { events, part } = recorder();
    const lifecycle = new PartLifecycle();
    lifecycle.hold({ name: 'database', stop: () => events.push('stop database') });
    expect(await lifecycle.start(part('http'))).toBe(4);
    await lifecycle.start(part('mllp'));
    await lifecycle.stop();
    expect(events).toEqual(['start http', 'start mllp', 'stop mllp', 'stop http', 'stop database']);
  });

  it('unwinds what started when a later part fails, and rethrows', async () => {
    const { events, part } = recorder();
    const lifecycle = new PartLifecycle();
    lifecycle.hold({ name: 'database', stop: () => events.push('stop database') });
    await lifecycle.start(part('http'));
    await expect(lifecycle.start(part('mllp', { failStart: true }))).rejects.toThrow('mllp cannot start');
    expect(events).toEqual(['start http', 'start mllp', 'stop mllp', 'stop http', 'stop database']);
    await expect(lifecycle.start(part('late'))).rejects.toThrow('stopping');
  });

  it('logs a part that fails to stop and still stops the rest, once', async () => {
    const { events, part } = recorder();
    const logged: unknown[] = [];
    const lifecycle = new PartLifecycle({ error: (fields, message) => logged.push([fields.part, message]) });
    await lifecycle.start(part('first'));
    await lifecycle.start(part('second', { failStop: true }));
    await Promise.all([lifecycle.stop(), lifecycle.stop()]);
    expect(events).toEqual(['start first', 'start second', 'stop second', 'stop first']);
    expect(logged).toEqual([['second', 'second did not stop cleanly']]);
  });
});
