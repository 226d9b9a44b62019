// A real agent process with one MLLP source, for the HL7/MLLP attack tests: its
// config, raw MLLP peers that time their ACKs, its resident memory as the kernel
// reports it, and what its SQLite files hold (journal, local copy, alerts), read
// directly so the tests depend on no HTTP route.
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { frameMllp, Hl7Message, MllpFramer } from '../../agent/hl7/index.js';
import { residentBytes } from '../bench/process-watch.js';
import { freePort } from './free-port.js';
import { WardlineProcess, waitForHttp } from './wardline-process.js';

export interface Hl7AttackAgentOptions {
  /** Extra keys for the MLLP source entry, e.g. `{ idleTimeout: '2s' }`. */
  source?: Record<string, unknown>;
  /** Extra keys for the alerts section. */
  alerts?: Record<string, unknown>;
}

export class Hl7AttackAgent {
  private constructor(
    readonly dir: string,
    readonly process: WardlineProcess,
    readonly mllpPort: number,
    readonly httpPort: number,
  ) {}

  static async start(dir: string, options: Hl7AttackAgentOptions = {}): Promise<Hl7AttackAgent> {
    const [mllpPort, httpPort, relayPort] = [await freePort(), await freePort(), await freePort()];
    const source = { kind: 'mllp', name: 'lis', listen: `127.0.0.1:${mllpPort}`, ...options.source };
    writeFileSync(
      join(dir, 'agent.yaml'),
      `hospital: { id: hl7-attack-hospital }
dataDir: ./agent-data
http: { listen: "127.0.0.1:${httpPort}" }
sources: [${JSON.stringify(source)}]
relays: [{ name: cloud, address: "127.0.0.1:${relayPort}", secret: "hl7-attack-secret-0123", allowPlaintext: true, connectTimeoutMs: 500 }]
feeds: [{ name: clinical, relay: cloud, streams: [adt, results] }]
replication: { backoff: { initialMs: 500, maxMs: 1000 } }
alerts: ${JSON.stringify({ settleAfter: '1m', ...options.alerts })}
log: { level: info }
`,
    );
    const agent = new WardlineProcess(['agent', 'start', '--config', join(dir, 'agent.yaml')], join(dir, 'agent.log'));
    await waitForHttp(`http://127.0.0.1:${httpPort}/healthz`, agent);
    return new Hl7AttackAgent(dir, agent, mllpPort, httpPort);
  }

  /** VmRSS of the agent process, in bytes, from /proc/<pid>/status. */
  rssBytes(): number {
    return residentBytes(this.process.child.pid!);
  }

  get log(): string {
    return readFileSync(join(this.dir, 'agent.log'), 'utf8');
  }

  /** Runs `read` on a read-only handle to the agent's database. */
  query<T>(read: (db: Database.Database) => T): T {
    const db = new Database(join(this.dir, 'agent-data', 'agent.db'), { readonly: true, fileMustExist: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  }

  /** Journal rows of a control id, oldest first, bodies as text. */
  journaled(controlId: string): { seq: number; stream: string; key: string; body: string }[] {
    return this.query((db) =>
      (db.prepare("SELECT seq, stream, key, body FROM journal WHERE json_extract(headers, '$.controlId') = ? ORDER BY seq").all(controlId) as {
        seq: number;
        stream: string;
        key: string;
        body: Buffer;
      }[]).map((row) => ({ ...row, body: row.body.toString('utf8') })),
    );
  }

  /** The local copy's current version of a record: its body as text, or undefined. */
  localCopy(stream: string, key: string): string | undefined {
    return this.query((db) => {
      const row = db.prepare('SELECT j.body FROM records r JOIN journal j ON j.seq = r.seq WHERE r.stream = ? AND r.key = ?').get(stream, key) as { body: Buffer } | undefined;
      return row?.body.toString('utf8');
    });
  }

  /** Alerts stored for a rule, oldest first. */
  alerts(rule: string): { subject: string; level: number; message: string; details: string }[] {
    return this.query((db) => db.prepare('SELECT subject, level, message, details FROM alerts WHERE rule = ? ORDER BY id').all(rule) as never);
  }

  async stop(): Promise<void> {
    await this.process.kill('SIGTERM');
  }
}

/** A sender on a raw socket: frames out, ACKs in, each ACK timed from its send. */
export class Hl7Peer {
  private readonly framer = new MllpFramer();
  private readonly waiting: { resolve(ack: { ack: Hl7Message; ms: number }): void; sentAt: number }[] = [];
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      for (const payload of this.framer.push(chunk)) {
        const waiter = this.waiting.shift();
        waiter?.resolve({ ack: Hl7Message.parse(payload.toString('latin1')), ms: performance.now() - waiter.sentAt });
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<Hl7Peer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new Hl7Peer(socket)));
      socket.setNoDelay(true);
      socket.once('error', reject);
    });
  }

  /** Sends one message; resolves with its ACK and the ms it took, or rejects after timeoutMs. */
  send(message: string | Buffer, timeoutMs = 10_000): Promise<{ ack: Hl7Message; ms: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ACK within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        sentAt: performance.now(),
        resolve: (ack) => {
          clearTimeout(timer);
          resolve(ack);
        },
      });
      this.socket.write(frameMllp(typeof message === 'string' ? Buffer.from(message, 'utf8') : message));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** An ORU^R01 with one potassium result; MSH-7 given so a retransmission can restamp it. */
export function potassiumResult(options: { controlId: string; value: string; order?: string; sentAt?: string; sender?: string }): string {
  const sender = options.sender ?? 'LIS|LAB';
  return [
    `MSH|^~\\&|${sender}|WARDLINE|AGENT|${options.sentAt ?? '20260101083000'}||ORU^R01^ORU_R01|${options.controlId}|P|2.5`,
    'PID|1||MRN0042^^^HOSP^MR||Li^Wei||19700101|F',
    `OBR|1|${options.order ?? 'ORD-7001'}|${options.order ?? 'ORD-7001'}|2823-3^Potassium^LN`,
    `OBX|1|NM|2823-3^Potassium^LN||${options.value}|mmol/L|3.5-5.1|${Number(options.value) > 6 ? 'HH' : 'N'}|||F`,
    '',
  ].join('\r');
}

/**
 * Opens `connections` MLLP connections from a separate node process, each writing
 * an MSH and then `unfinishedBytes` of one field, never ended (0: nothing, idle),
 * so the flood's own writing does not hold up the test's event loop and timings.
 */
export class MllpFlood {
  private closedCount = 0;
  private openedCount = 0;
  readonly opened: Promise<void>;

  private constructor(private readonly child: ChildProcess, connections: number) {
    let resolveOpened!: () => void;
    this.opened = new Promise((resolve) => (resolveOpened = resolve));
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line === 'open' && ++this.openedCount === connections) resolveOpened();
        if (line === 'closed') this.closedCount++;
      }
    });
  }

  static start(port: number, connections: number, unfinishedBytes: number): MllpFlood {
    const script = `
      const net = require('node:net');
      const frame = Buffer.concat([Buffer.from([0x0b]), Buffer.from('MSH|^~\\\\&|EVIL|NET|WL|AGENT|20260101||ORU^R01|X1|P|2.5\\rOBX|1|ED|PDF||'), Buffer.alloc(${unfinishedBytes}, 0x41)]);
      const open = (left) => {
        if (left === 0) return;
        const socket = net.connect({ host: '127.0.0.1', port: ${port} }, () => {
          process.stdout.write('open\\n');
          if (${unfinishedBytes} > 0) socket.write(frame);
          open(left - 1);
        });
        socket.on('error', () => undefined);
        socket.once('close', () => process.stdout.write('closed\\n'));
      };
      open(${connections});
      setInterval(() => undefined, 1000);
    `;
    return new MllpFlood(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }), connections);
  }

  /** Connections the agent has closed so far. */
  get closed(): number {
    return this.closedCount;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
