// The fault proxy itself, with real sockets on 127.0.0.1: an echo server behind
// it, a plain TCP client in front. What a test relying on the proxy would
// notice: bytes arrive intact and in order, a reset is a reset, a blackhole
// keeps the socket open but answers nothing, a throttle holds its rate.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../support/fault-proxy.js';
import { planFaults } from '../support/fault-schedule.js';

/** An echo server that records the size of every read, per connection. */
class EchoServer {
  readonly reads: number[][] = [];
  readonly sockets: Socket[] = [];
  readonly closes: { hadError: boolean }[] = [];
  private constructor(readonly server: Server) {}

  static async start(): Promise<EchoServer> {
    const server = createServer({ allowHalfOpen: true });
    const echo = new EchoServer(server);
    server.on('connection', (socket) => {
      const reads: number[] = [];
      echo.reads.push(reads);
      echo.sockets.push(socket);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        reads.push(chunk.length);
        socket.write(chunk);
      });
      socket.on('end', () => socket.end());
      socket.on('close', (hadError) => echo.closes.push({ hadError }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return echo;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A client socket that collects what it receives and how it ended. */
class Client {
  received = Buffer.alloc(0);
  closed: { hadError: boolean } | undefined;
  error: NodeJS.ErrnoException | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (this.error = error));
    socket.on('close', (hadError) => {
      this.closed = { hadError };
      this.notify();
    });
  }

  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new Client(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Resolves once `bytes` have been received (true) or after timeoutMs (false). */
  async waitForBytes(bytes: number, timeoutMs: number): Promise<boolean> {
    return this.waitFor(() => this.received.length >= bytes, timeoutMs);
  }

  async waitForClose(timeoutMs: number): Promise<boolean> {
    return this.waitFor(() => this.closed !== undefined, timeoutMs);
  }

  private async waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FaultProxy', () => {
  let echo: EchoServer;
  let proxy: FaultProxy;
  const clients: Client[] = [];
  const open = async (): Promise<Client> => {
    const client = await Client.open(proxy.port);
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    echo = await EchoServer.start();
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: echo.port } });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.socket.destroy();
    await proxy.stop();
    await echo.close();
  });

  it('forwards bytes both ways, passes a half-close through, and counts', async () => {
    const client = await open();
    client.socket.write('hello, ward 3');
    expect(await client.waitForBytes(13, 2000)).toBe(true);
    expect(client.received.toString()).toBe('hello, ward 3');
    client.socket.end();
    expect(await client.waitForClose(2000)).toBe(true);
    expect(client.closed).toEqual({ hadError: false });
    expect(proxy.stats).toMatchObject({ bytesToTarget: 13, bytesToClient: 13, connectionsAccepted: 1, resets: 0 });
  });

  it('reset() sends a RST to both ends and keeps accepting', async () => {
    const client = await open();
    client.socket.write('ping');
    await client.waitForBytes(4, 2000);
    proxy.reset();
    expect(await client.waitForClose(2000)).toBe(true);
    expect(client.error?.code).toBe('ECONNRESET');
    await sleep(100);
    expect(echo.closes).toEqual([{ hadError: true }]);
    expect(proxy.stats.resets).toBe(1);

    const again = await open();
    again.socket.write('still here');
    expect(await again.waitForBytes(10, 2000)).toBe(true);
    expect(proxy.mode).toBe('forward');
  });

  it('blackhole() keeps sockets open but swallows everything; heal() resets what lost bytes', async () => {
    const client = await open();
    client.socket.write('before');
    await client.waitForBytes(6, 2000);

    proxy.blackhole();
    client.socket.write('into the hole');
    const late = await open(); // a new connection is accepted, and swallowed too
    late.socket.write('also lost');
    expect(await client.waitForBytes(7, 800)).toBe(false);
    expect(await late.waitForBytes(1, 10)).toBe(false);
    // Neither end has been told anything: a half-open link.
    expect(client.closed).toBeUndefined();
    expect(late.closed).toBeUndefined();
    expect(echo.closes).toEqual([]);
    expect(echo.reads[0]).toEqual([6]);
    expect(proxy.stats).toMatchObject({ swallowedToTarget: 13 + 9, bytesToTarget: 6 });

    // A connection that sent nothing during the blackhole survives it.
    const idle = await open();
    await proxy.heal();
    expect(await client.waitForClose(2000)).toBe(true);
    expect(client.error?.code).toBe('ECONNRESET');
    expect(await late.waitForClose(2000)).toBe(true);
    idle.socket.write('after heal');
    expect(await idle.waitForBytes(10, 2000)).toBe(true);
    expect(idle.received.toString()).toBe('after heal');
    expect(proxy.stats.resets).toBe(2);
  });

  it('refuse() resets current connections and refuses new ones until heal()', async () => {
    const client = await open();
    proxy.refuse();
    expect(await client.waitForClose(2000)).toBe(true);
    expect(client.error?.code).toBe('ECONNRESET');
    expect(await connectError(proxy.port)).toBe('ECONNREFUSED');

    await proxy.heal();
    const again = await open();
    again.socket.write('back');
    expect(await again.waitForBytes(4, 2000)).toBe(true);
  });

  it('throttle() holds each direction to its rate', async () => {
    const rate = 256 * 1024;
    proxy.throttle(rate);
    const client = await open();
    const payload = Buffer.alloc(512 * 1024, 0x5a);
    const started = performance.now();
    client.socket.write(payload);
    expect(await client.waitForBytes(payload.length, 10_000)).toBe(true);
    const seconds = (performance.now() - started) / 1000;
    const measured = payload.length / seconds;
    console.log(`fault proxy throttle: cap ${rate} B/s, measured ${Math.round(measured)} B/s over ${seconds.toFixed(2)} s (${((measured / rate - 1) * 100).toFixed(1)} %)`);
    expect(measured).toBeGreaterThan(rate * 0.85);
    expect(measured).toBeLessThan(rate * 1.15);
    expect(client.received.equals(payload)).toBe(true);
  });

  it('sliceWrites() splits one write into many small reads, bytes intact', async () => {
    proxy.sliceWrites(7);
    const client = await open();
    const payload = Buffer.from(Array.from({ length: 2000 }, (_, i) => i % 251));
    client.socket.write(payload);
    expect(await client.waitForBytes(payload.length, 5000)).toBe(true);
    expect(client.received.equals(payload)).toBe(true);
    const reads = echo.reads[0]!;
    expect(reads.reduce((a, b) => a + b, 0)).toBe(2000);
    // Unsliced, a 2000-byte write on loopback arrives in one read.
    expect(reads.length).toBeGreaterThan(2000 / 7 / 2);
    expect(Math.max(...reads)).toBeLessThanOrEqual(7 * 4);
  });

  it('latency() delays every chunk each way and never reorders them', async () => {
    proxy.latency(150);
    const client = await open();
    const started = performance.now();
    client.socket.write('x');
    expect(await client.waitForBytes(1, 3000)).toBe(true);
    const roundTripMs = performance.now() - started;
    expect(roundTripMs).toBeGreaterThanOrEqual(290);
    expect(roundTripMs).toBeLessThan(2000);

    // Chunks written under a long latency, then more after it drops to 0: none overtakes.
    proxy.latency(300);
    for (let i = 0; i < 20; i++) client.socket.write(`<${i}>`);
    await sleep(20);
    proxy.latency(0);
    for (let i = 20; i < 40; i++) client.socket.write(`<${i}>`);
    const expected = 'x' + Array.from({ length: 40 }, (_, i) => `<${i}>`).join('');
    expect(await client.waitForBytes(expected.length, 3000)).toBe(true);
    expect(client.received.toString()).toBe(expected);
  });

  it('plays the same seeded schedule of faults for the same seed', async () => {
    const options = { seed: 'flaps-1', faults: 6, minGapMs: 20, maxGapMs: 60, minDurationMs: 20, maxDurationMs: 40 };
    const plan = planFaults(options);
    expect(planFaults(options)).toEqual(plan);
    expect(planFaults({ ...options, seed: 'flaps-2' })).not.toEqual(plan);
    expect(new Set(plan.map((f) => f.kind)).size).toBeGreaterThan(1);

    const first = proxy.playSchedule(options);
    const applied = await first.done;
    const second = await proxy.playSchedule(options).done;
    expect(applied.map((f) => f.kind)).toEqual(plan.map((f) => f.kind));
    expect(second.map((f) => f.kind)).toEqual(plan.map((f) => f.kind));
    for (const [i, fault] of applied.entries()) {
      // Timers may fire a millisecond early, and both figures are rounded.
      expect(fault.atMs).toBeGreaterThanOrEqual(plan[i]!.atMs - 2);
      expect(fault.durationMs).toBeGreaterThanOrEqual(plan[i]!.durationMs - 2);
    }
    // Healed at the end: forwarding again.
    expect(proxy.mode).toBe('forward');
    const client = await open();
    client.socket.write('after the storm');
    expect(await client.waitForBytes(15, 2000)).toBe(true);
  });

  it('stop() on a schedule cancels the faults still to come and heals', async () => {
    const run = proxy.playSchedule({ seed: 7, faults: 50, minGapMs: 10, maxGapMs: 20, kinds: ['blackhole', 'refuse'], minDurationMs: 200, maxDurationMs: 300 });
    await sleep(60);
    const applied = await run.stop();
    expect(applied.length).toBeGreaterThan(0);
    expect(applied.length).toBeLessThan(50);
    expect(proxy.mode).toBe('forward');
    const client = await open();
    client.socket.write('ok');
    expect(await client.waitForBytes(2, 2000)).toBe(true);
  });
});
