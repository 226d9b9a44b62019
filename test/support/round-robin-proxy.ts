// A TCP load balancer in front of several relay processes, as an operator puts
// one in front of a relay cluster: each accepted connection goes to the next
// enabled backend in turn (round robin per connection, not per request — a gRPC
// stream stays on the process its connection reached). It is the fault proxy
// (simulator/line) with a backend chosen per connection, so resets, blackholes
// and shaping work the same in front of N processes as in front of one.
//
// Failure modes it models:
//  1. resetAll(): every connection cut at once (the balancer restarted); each
//     client reconnects and lands on the next backend in turn.
//  2. disable(i): a failed health check: no new connection goes to backend i;
//     with { reset: true } its current connections are cut too.
//  3. A backend that is down but still enabled (no health check yet): the
//     connection to it is refused and the proxy resets the client's, so the
//     client retries and lands on the next backend.
//  4. Every backend disabled: each new connection is reset at once.
import { FaultProxy, type FaultProxyStats, type ProxyTarget } from './fault-proxy.js';

export interface RoundRobinProxyOptions {
  backends: readonly ProxyTarget[];
  /** Port on 127.0.0.1; default any free port. */
  listenPort?: number;
}

export class RoundRobinProxy {
  private readonly disabled = new Set<number>();
  private readonly accepted: number[];
  private next = 0;
  private last: number | undefined;
  private proxy!: FaultProxy;

  private constructor(readonly backends: readonly ProxyTarget[]) {
    this.accepted = backends.map(() => 0);
  }

  static async start(options: RoundRobinProxyOptions): Promise<RoundRobinProxy> {
    if (options.backends.length === 0) throw new Error('a round-robin proxy needs at least one backend');
    const balancer = new RoundRobinProxy(options.backends);
    balancer.proxy = await FaultProxy.start({ target: () => balancer.choose(), listenPort: options.listenPort });
    return balancer;
  }

  /** host:port to give clients. */
  get address(): string {
    return this.proxy.address;
  }

  get port(): number {
    return this.proxy.port;
  }

  /** The fault proxy underneath, for blackholes and shaping of the whole line. */
  get line(): FaultProxy {
    return this.proxy;
  }

  /** The backend the latest accepted connection went to; undefined before the first. */
  get lastBackend(): number | undefined {
    return this.last;
  }

  /** Connections sent to each backend so far, by backend index. */
  get connectionsPerBackend(): readonly number[] {
    return [...this.accepted];
  }

  get stats(): FaultProxyStats {
    return this.proxy.stats;
  }

  isEnabled(backend: number): boolean {
    return !this.disabled.has(backend);
  }

  /** Cuts every current connection (RST both ways); new connections are accepted as before. */
  resetAll(): void {
    this.proxy.reset();
  }

  /** Cuts the current connections to one backend only. */
  resetBackend(backend: number): void {
    const target = this.backend(backend);
    this.proxy.reset((t) => t.host === target.host && t.port === target.port);
  }

  /** Sends no new connection to `backend`; with reset, cuts its current ones as well. */
  disable(backend: number, options: { reset?: boolean } = {}): void {
    this.backend(backend);
    this.disabled.add(backend);
    if (options.reset) this.resetBackend(backend);
  }

  enable(backend: number): void {
    this.backend(backend);
    this.disabled.delete(backend);
  }

  async stop(): Promise<void> {
    await this.proxy.stop();
  }

  private backend(index: number): ProxyTarget {
    const target = this.backends[index];
    if (!target) throw new RangeError(`no backend ${index}: the proxy has ${this.backends.length}`);
    return target;
  }

  private choose(): ProxyTarget | undefined {
    for (let tried = 0; tried < this.backends.length; tried++) {
      const index = this.next;
      this.next = (this.next + 1) % this.backends.length;
      if (this.disabled.has(index)) continue;
      this.last = index;
      this.accepted[index]!++;
      return this.backends[index];
    }
    return undefined;
  }
}
