// The dashboard's live channel: a WebSocket per open page (ws), over which the
// agent pushes a snapshot when the page connects and then every status sample,
// every alert and every link state change as they happen. Pages never poll.
//
// Failure modes handled:
//  1. A page on a slow link (a wall screen on bad Wi-Fi): status frames are
//     skipped for a socket with more than MAX_BUFFERED_BYTES unsent — the next
//     one supersedes them anyway — so agent memory does not grow; alerts and
//     link changes are always queued.
//  2. A page that vanished without closing (laptop lid shut): a ping every
//     heartbeatMs; no pong by the next one terminates the socket.
//  3. A login that ends while the page is open (logout, idle expiry): checked at
//     each heartbeat; the socket is closed with CLOSE_UNAUTHORIZED and the page
//     goes to the login form.
//  4. Agent shutdown: every socket is closed with 1001 (going away) and the page
//     reconnects by itself when the agent is back.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

/** Heartbeat interval, in ms. */
export const DEFAULT_HEARTBEAT_MS = 30_000;
/** Unsent bytes above which a socket is skipped for status frames. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** WebSocket close code telling the page its login is gone (4000–4999 are the application's). */
export const CLOSE_UNAUTHORIZED = 4401;

export interface DashboardHubLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface DashboardHubOptions {
  /** The first frame a page receives. */
  snapshot: (client: { admin: boolean }) => object;
  log: DashboardHubLogger;
  /** Default DEFAULT_HEARTBEAT_MS (30 000). */
  heartbeatMs?: number;
}

/** How a connecting page was let in. */
export interface HubClientAccess {
  /** Whether it may use the admin actions (pause, resume, reconnect). */
  admin: boolean;
  /** Checked at each heartbeat; false closes the socket with CLOSE_UNAUTHORIZED. */
  stillAuthorized: () => boolean;
}

interface Client {
  socket: WebSocket;
  access: HubClientAccess;
  alive: boolean;
}

export class DashboardHub {
  private readonly server = new WebSocketServer({
    noServer: true,
    // Pages send nothing but pongs; anything large is not a dashboard.
    maxPayload: 4 * 1024,
    // Status frames are repetitive JSON: compressed they are a fraction of the size.
    perMessageDeflate: { threshold: 1024 },
  });
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly options: DashboardHubOptions) {
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Pages connected now. */
  get size(): number {
    return this.clients.size;
  }

  /** Completes a WebSocket upgrade the HTTP layer has already authorized. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, access: HubClientAccess): void {
    this.server.handleUpgrade(req, socket, head, (ws) => {
      const client: Client = { socket: ws, access, alive: true };
      this.clients.add(client);
      ws.on('pong', () => (client.alive = true));
      ws.on('close', () => this.clients.delete(client));
      ws.on('error', () => ws.terminate());
      // Pages have nothing to say; ignore it rather than echo or parse it.
      ws.on('message', () => undefined);
      try {
        send(ws, { ...this.options.snapshot({ admin: access.admin }), type: 'snapshot' });
      } catch (error) {
        this.options.log.warn({ err: error }, 'dashboard snapshot failed');
        ws.close(1011, 'snapshot failed');
      }
    });
  }

  /** Sends a frame to every page. `droppable` frames skip pages that are behind. */
  publish<F extends { type: string }>(frame: F, options: { droppable?: boolean } = {}): void {
    if (this.clients.size === 0) return;
    const text = JSON.stringify(frame);
    for (const client of this.clients) {
      if (client.socket.readyState !== WebSocket.OPEN) continue;
      if (options.droppable && client.socket.bufferedAmount > MAX_BUFFERED_BYTES) continue;
      client.socket.send(text);
    }
  }

  /** Closes every page's socket (1001: going away) and stops the heartbeat. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    const closed = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.socket.once('close', () => resolve());
          client.socket.close(1001, 'agent stopping');
          // A page that does not answer the close handshake is cut.
          setTimeout(() => {
            client.socket.terminate();
            resolve();
          }, 1_000).unref();
        }),
    );
    await Promise.all(closed);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private beat(): void {
    for (const client of this.clients) {
      if (!client.access.stillAuthorized()) {
        client.socket.close(CLOSE_UNAUTHORIZED, 'login required');
        continue;
      }
      if (!client.alive) {
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }
}

function send(ws: WebSocket, frame: object): void {
  ws.send(JSON.stringify(frame));
}
