// The round-robin proxy in front of three tiny servers that each greet with
// their own name, on real sockets: connections go to the backends in turn, a
// disabled backend gets none, resets cut what they should and nothing else, and
// a backend that is down costs the client one refused connection, not a hang.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RoundRobinProxy } from '../support/round-robin-proxy.js';

/** A server that writes its name on connect, then echoes. */
class NamedServer {
  readonly sockets = new Set<Socket>();
  private constructor(
    readonly name: string,
    private server: Server,
    readonly port: number,
  ) {}

  static async start(name: string, port = 0): Promise<NamedServer> {
    const server = NamedServer.listen(name);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const started = new NamedServer(name, server, (server.address() as { port: number }).port);
    started.track(server);
    return started;
  }

  private static listen(name: string): Server {
    return createServer((socket) => {
      socket.on('error', () => {});
      socket.write(`${name}\n`);
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
    });
  }

  private track(server: Server): void {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port (a restarted process). */
  async restart(): Promise<void> {
    this.server = NamedServer.listen(this.name);
    this.track(this.server);
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }
}

/** A client: resolves its greeting (the backend's name) or how the connection ended without one. */
function dial(port: number): Promise<{ socket: Socket; greeting: string; closed: Promise<{ hadError: boolean }> }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<{ hadError: boolean }>((resolve) => socket.once('close', (hadError) => resolve({ hadError })));
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve({ socket, greeting: text.split('\n')[0]!, closed });
    });
    void closed.then(() => resolve({ socket, greeting: '', closed }));
  });
}

describe('RoundRobinProxy', () => {
  let servers: NamedServer[];
  let proxy: RoundRobinProxy;
  const open: Socket[] = [];

  beforeEach(async () => {
    servers = await Promise.all(['a', 'b', 'c'].map((name) => NamedServer.start(name)));
    proxy = await RoundRobinProxy.start({ backends: servers.map((s) => ({ host: '127.0.0.1', port: s.port })) });
  });

  afterEach(async () => {
    for (const socket of open.splice(0)) socket.destroy();
    await proxy.stop();
    await Promise.all(servers.map((s) => s.close().catch(() => {})));
  });

  async function greetings(count: number): Promise<string[]> {
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const { socket, greeting } = await dial(proxy.port);
      open.push(socket);
      names.push(greeting);
    }
    return names;
  }

  it('sends each new connection to the next backend in turn and keeps a connection on its backend', async () => {
    expect(await greetings(6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(proxy.connectionsPerBackend).toEqual([2, 2, 2]);
    expect(proxy.lastBackend).toBe(2);
    // Bytes of one connection all reach the same backend.
    const { socket } = await dial(proxy.port);
    open.push(socket);
    const echoed = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.endsWith('ping-2')) resolve(text);
      });
    });
    socket.write('ping-1');
    socket.write('ping-2');
    expect(await echoed).toContain('ping-1ping-2');
  });

  it('gives a disabled backend no new connection, and cuts its current ones only when asked', async () => {
    const [onA, onB] = [await dial(proxy.port), await dial(proxy.port)];
    open.push(onA.socket, onB.socket);
    expect([onA.greeting, onB.greeting]).toEqual(['a', 'b']);
    proxy.disable(1);
    expect(await greetings(4)).toEqual(['c', 'a', 'c', 'a']);
    expect(onB.socket.destroyed).toBe(false);

    proxy.disable(0, { reset: true });
    expect((await onA.closed).hadError).toBe(true);
    expect(onB.socket.destroyed).toBe(false);
    expect(await greetings(2)).toEqual(['c', 'c']);

    proxy.enable(0);
    proxy.enable(1);
    expect((await greetings(3)).sort()).toEqual(['a', 'b', 'c']);
  });

  it('resetAll cuts every connection with a RST, and the clients reconnect to the next backends', async () => {
    const clients = await Promise.all([0, 1, 2].map(() => dial(proxy.port)));
    open.push(...clients.map((c) => c.socket));
    proxy.resetAll();
    for (const client of clients) expect((await client.closed).hadError).toBe(true);
    expect(proxy.stats.connectionsOpen).toBe(0);
    expect((await greetings(3)).sort()).toEqual(['a', 'b', 'c']);
  });

  it('a backend that is down refuses the connection; the client is reset at once and its retry reaches the next backend', async () => {
    await servers[1]!.close();
    const first = await dial(proxy.port);
    expect(first.greeting).toBe('a');
    open.push(first.socket);
    const refused = await dial(proxy.port);
    expect(refused.greeting).toBe('');
    expect(await greetings(1)).toEqual(['c']);
    await servers[1]!.restart();
    expect(await greetings(3)).toEqual(['a', 'b', 'c']);
  });

  it('with every backend disabled, a new connection is reset at once', async () => {
    for (const i of [0, 1, 2]) proxy.disable(i);
    const started = Date.now();
    const { greeting, closed } = await dial(proxy.port);
    expect(greeting).toBe('');
    await closed;
    expect(Date.now() - started).toBeLessThan(1000);
    proxy.enable(2);
    expect(await greetings(1)).toEqual(['c']);
  });
});
