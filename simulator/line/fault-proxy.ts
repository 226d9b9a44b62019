// A TCP fault proxy: it sits between a client (the agent) and a
// target (the relay) on 127.0.0.1, forwards bytes both ways, and on command
// breaks the link the ways a leased line breaks.
//
// Faults (modes and actions):
//  1. reset(): every current connection gets a RST on both sides, as when a
//     carrier router reboots; new connections are accepted as before.
//  2. blackhole(): the line goes dark: connections stay open, bytes (and FINs)
//     in both directions are dropped, new connections are accepted and dropped
//     into the same hole. Neither end learns anything: a half-open link, found
//     only by keepalives and timeouts.
//  3. refuse(): nothing listens any more (connect gets ECONNREFUSED) and current
//     connections are reset, as when the far end's host is down.
//  4. heal(): back to forwarding. A connection that lost bytes in a blackhole
//     cannot carry on intact, so it is reset, as a stateful firewall that forgot
//     the flow would; connections that lost nothing simply carry on.
// Shaping, which heal() leaves alone (a slow line that flaps stays slow):
// latency(ms), throttle(bytesPerSecond) and sliceWrites(maxBytes).
import { createServer, connect, type Server, type Socket } from 'node:net';
import { FaultPipe, type PipeShaping } from './fault-pipe.js';
import { planFaults, type FaultKind, type FaultScheduleOptions, type PlannedFault } from './fault-schedule.js';
import { performance } from 'node:perf_hooks';
import { TokenBucket } from '../../agent/bandwidth/index.js';

export type FaultMode = 'forward' | 'blackhole' | 'refuse';

/** A host:port the proxy forwards to. */
export interface ProxyTarget {
  host: string;
  port: number;
}

export interface FaultProxyOptions {
  /**
   * Where accepted connections are forwarded: one target, or a choice made afresh
   * for each accepted connection (a load balancer's); a choice of undefined resets
   * the new connection at once, as a balancer with no healthy backend does.
   */
  target: ProxyTarget | (() => ProxyTarget | undefined);
  /** Port to listen on, on 127.0.0.1; default 0 (any free port). */
  listenPort?: number;
}

export interface FaultProxyStats {
  /** Bytes delivered client -> target. */
  bytesToTarget: number;
  /** Bytes delivered target -> client. */
  bytesToClient: number;
  /** Bytes dropped by a blackhole, client -> target and target -> client. */
  swallowedToTarget: number;
  swallowedToClient: number;
  connectionsAccepted: number;
  connectionsOpen: number;
  /** Connections reset by reset(), refuse() or heal(). */
  resets: number;
}

/** A fault as a schedule applied it. */
export interface AppliedFault {
  /** When it started, ms after the schedule started. */
  atMs: number;
  kind: FaultKind;
  /** How long it lasted until heal(), in ms; 0 for reset, undefined while it lasts. */
  durationMs: number | undefined;
}

export interface FaultScheduleRun {
  /** What the seed planned. */
  readonly planned: readonly PlannedFault[];
  /** What was applied so far, in order. */
  readonly applied: readonly AppliedFault[];
  /** Resolves with the applied faults once the last one has healed, or after stop(). */
  readonly done: Promise<readonly AppliedFault[]>;
  /** Cancels the faults still to come and heals the proxy. */
  stop(): Promise<readonly AppliedFault[]>;
}

/**
 * A burst of this many ms of the throttle rate may go out at once. Large enough
 * that a busy event loop (a loaded CI machine) does not cost measured rate, small
 * enough that the line still looks steady. Buckets start empty, so a run of T
 * seconds never carries more than rate × T.
 */
const THROTTLE_BURST_MS = 100;

export class FaultProxy {
  private server: Server | undefined;
  private currentMode: FaultMode = 'forward';
  private readonly connections = new Set<ProxiedConnection>();
  private latencyMs = 0;
  private sliceBytes: number | undefined;
  private buckets: { toTarget: TokenBucket; toClient: TokenBucket } | undefined;
  private readonly counters: FaultProxyStats = {
    bytesToTarget: 0,
    bytesToClient: 0,
    swallowedToTarget: 0,
    swallowedToClient: 0,
    connectionsAccepted: 0,
    connectionsOpen: 0,
    resets: 0,
  };
  private readonly schedules = new Set<FaultScheduleRun>();
  private listenPort = 0;
  private stopped = false;

  private constructor(private readonly chooseTarget: () => ProxyTarget | undefined) {}

  /** Starts listening on 127.0.0.1 and forwarding to `target`. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const { target } = options;
    const proxy = new FaultProxy(typeof target === 'function' ? target : () => target);
    proxy.server = await proxy.listen(options.listenPort ?? 0);
    proxy.listenPort = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  /** The port the proxy listens on, on 127.0.0.1 (kept across refuse()/heal()). */
  get port(): number {
    return this.listenPort;
  }

  /** host:port to give the client. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get mode(): FaultMode {
    return this.currentMode;
  }

  /** A snapshot of the counters. */
  get stats(): FaultProxyStats {
    return { ...this.counters, connectionsOpen: this.connections.size };
  }

  /** Resets every current connection (RST both ways), or only those to targets `which` picks; keeps accepting. */
  reset(which?: (target: ProxyTarget) => boolean): void {
    for (const connection of [...this.connections]) if (!which || which(connection.target)) this.resetConnection(connection);
  }

  /** Drops every byte both ways from now on, on current and new connections, without closing anything. */
  blackhole(): void {
    if (this.currentMode === 'refuse') throw new Error('blackhole() while refusing: heal() first');
    this.currentMode = 'blackhole';
    for (const connection of this.connections) connection.discardQueued();
  }

  /** Stops listening (connects are refused) and resets every current connection. */
  refuse(): void {
    this.currentMode = 'refuse';
    this.server?.close();
    this.server = undefined;
    this.reset();
  }

  /**
   * Back to forwarding: listens again if refusing; resets connections that lost
   * bytes in a blackhole, unless `resetDamaged` is false: then they stay open with
   * their bytes gone, as behind a middlebox that swallowed them and says nothing,
   * until one end's own timeouts find out.
   */
  async heal(options: { resetDamaged?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    if (this.currentMode === 'refuse') {
      const server = await this.listen(this.port);
      // stop() may have run while the port was being bound.
      if (this.stopped) {
        server.close();
        return;
      }
      this.server = server;
    }
    this.currentMode = 'forward';
    if (options.resetDamaged === false) return;
    for (const connection of [...this.connections]) {
      if (connection.lostBytes) this.resetConnection(connection);
    }
  }

  /** Holds every chunk, each direction, this long before writing it (order kept), in ms; 0 = none. */
  latency(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`latency must be ≥ 0 ms, got ${ms}`);
    this.latencyMs = ms;
    this.kickAll();
  }

  /** Caps each direction at this many bytes per second, shared by all connections; undefined or 0 = no cap. */
  throttle(bytesPerSecond: number | undefined): void {
    if (!bytesPerSecond) this.buckets = undefined;
    else {
      const burst = Math.max(1, Math.round((bytesPerSecond * THROTTLE_BURST_MS) / 1000));
      this.buckets = {
        toTarget: new TokenBucket({ rateBytesPerSecond: bytesPerSecond, burstBytes: burst, initialTokens: 0, clock: () => performance.now() }),
        toClient: new TokenBucket({ rateBytesPerSecond: bytesPerSecond, burstBytes: burst, initialTokens: 0, clock: () => performance.now() }),
      };
    }
    this.kickAll();
  }

  /** Writes at most this many bytes at a time, each direction; undefined = as read. */
  sliceWrites(maxBytes: number | undefined): void {
    if (maxBytes !== undefined && !(Number.isInteger(maxBytes) && maxBytes >= 1)) throw new RangeError(`slice size must be a whole number ≥ 1, got ${maxBytes}`);
    this.sliceBytes = maxBytes;
    this.kickAll();
  }

  /**
   * Plays a seeded schedule of faults (see planFaults): each fault starts at its
   * planned offset (or as soon as the previous one has healed, if that is later)
   * and lasts at least its planned duration, then heal(). Returns at once.
   */
  playSchedule(options: FaultScheduleOptions): FaultScheduleRun {
    const planned = planFaults(options);
    const applied: AppliedFault[] = [];
    let cancel: (() => void) | undefined;
    let stopped = false;
    const startMs = performance.now();
    const sleepUntil = (offsetMs: number): Promise<void> =>
      new Promise((resolve) => {
        if (stopped) return resolve();
        const timer = setTimeout(done, Math.max(0, startMs + offsetMs - performance.now()));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        cancel = done;
      });
    const play = async (): Promise<readonly AppliedFault[]> => {
      for (const fault of planned) {
        await sleepUntil(fault.atMs);
        if (stopped) break;
        const entry: AppliedFault = { atMs: Math.round(performance.now() - startMs), kind: fault.kind, durationMs: undefined };
        applied.push(entry);
        if (fault.kind === 'reset') {
          this.reset();
          entry.durationMs = 0;
          continue;
        }
        if (fault.kind === 'blackhole') this.blackhole();
        else this.refuse();
        // Measured from the actual start: a fault applied late still lasts its full duration.
        await sleepUntil(entry.atMs + fault.durationMs);
        await this.heal();
        entry.durationMs = Math.round(performance.now() - startMs) - entry.atMs;
        if (stopped) break;
      }
      return applied;
    };
    const done = play();
    const run: FaultScheduleRun = {
      planned,
      applied,
      done,
      stop: async () => {
        stopped = true;
        cancel?.();
        return done;
      },
    };
    this.schedules.add(run);
    const forget = (): void => void this.schedules.delete(run);
    done.then(forget, forget);
    return run;
  }

  /** Stops any schedule, closes the listener and destroys every connection. */
  async stop(): Promise<void> {
    await Promise.all([...this.schedules].map((s) => s.stop()));
    this.stopped = true;
    this.currentMode = 'refuse';
    const server = this.server;
    this.server = undefined;
    for (const connection of [...this.connections]) connection.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private listen(port: number): Promise<Server> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false });
    server.on('connection', (socket: Socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  private accept(client: Socket): void {
    this.counters.connectionsAccepted++;
    const target = this.chooseTarget();
    if (!target) {
      this.counters.resets++;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const connection = new ProxiedConnection(client, target, {
      shaping: (direction) => this.shaping(direction),
      onForwarded: (direction, bytes) => {
        if (direction === 'toTarget') this.counters.bytesToTarget += bytes;
        else this.counters.bytesToClient += bytes;
      },
      onSwallowed: (direction, bytes) => {
        if (direction === 'toTarget') this.counters.swallowedToTarget += bytes;
        else this.counters.swallowedToClient += bytes;
      },
      onClosed: () => this.connections.delete(connection),
    });
    this.connections.add(connection);
  }

  private shaping(direction: Direction): PipeShaping {
    return {
      swallowing: this.currentMode === 'blackhole',
      latencyMs: this.latencyMs,
      sliceBytes: this.sliceBytes,
      bucket: this.buckets?.[direction],
    };
  }

  private resetConnection(connection: ProxiedConnection): void {
    this.counters.resets++;
    connection.reset();
  }

  private kickAll(): void {
    for (const connection of this.connections) connection.kick();
  }
}

type Direction = 'toTarget' | 'toClient';

interface ConnectionHooks {
  shaping: (direction: Direction) => PipeShaping;
  onForwarded: (direction: Direction, bytes: number) => void;
  onSwallowed: (direction: Direction, bytes: number) => void;
  onClosed: () => void;
}

/** One accepted client and its own connection to the target. */
class ProxiedConnection {
  private readonly upstream: Socket;
  private readonly toTarget: FaultPipe;
  private readonly toClient: FaultPipe;
  private open = 2;

  constructor(
    private readonly client: Socket,
    readonly target: ProxyTarget,
    private readonly hooks: ConnectionHooks,
  ) {
    this.upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    for (const socket of [client, this.upstream]) {
      socket.setNoDelay(true);
      // Errors (ECONNRESET, ECONNREFUSED) surface as 'close' with hadError.
      socket.on('error', () => {});
    }
    this.toTarget = this.pipe(client, this.upstream, 'toTarget');
    this.toClient = this.pipe(this.upstream, client, 'toClient');
    client.on('close', (hadError) => this.onSideClosed(this.upstream, hadError));
    this.upstream.on('close', (hadError) => this.onSideClosed(client, hadError));
  }

  get lostBytes(): boolean {
    return this.toTarget.lostBytes || this.toClient.lostBytes;
  }

  discardQueued(): void {
    this.toTarget.discardQueued();
    this.toClient.discardQueued();
  }

  kick(): void {
    this.toTarget.kick();
    this.toClient.kick();
  }

  reset(): void {
    this.toTarget.close();
    this.toClient.close();
    this.client.resetAndDestroy();
    this.upstream.resetAndDestroy();
  }

  destroy(): void {
    this.toTarget.close();
    this.toClient.close();
    this.client.destroy();
    this.upstream.destroy();
  }

  private pipe(from: Socket, to: Socket, direction: Direction): FaultPipe {
    return new FaultPipe({
      from,
      to,
      shaping: () => this.hooks.shaping(direction),
      onForwarded: (bytes) => this.hooks.onForwarded(direction, bytes),
      onSwallowed: (bytes) => this.hooks.onSwallowed(direction, bytes),
    });
  }

  private onSideClosed(other: Socket, hadError: boolean): void {
    // In a blackhole nothing reaches the other side, a RST no more than data:
    // that side stays open until its own timeouts find out (or heal() resets it).
    if (hadError && !this.hooks.shaping('toTarget').swallowing) {
      this.toTarget.close();
      this.toClient.close();
      other.resetAndDestroy();
    }
    if (--this.open === 0) this.hooks.onClosed();
  }
}
