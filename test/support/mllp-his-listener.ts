// A small HIS on a real MLLP socket for the downlink's tests: it records every
// message it is sent (MSH-10, the key in PID-3, when, how many at once) and
// answers with an ACK whose MSA-1 the test chooses per message (or none at all,
// to hold an attempt open). Listens on 127.0.0.1; stop() and listen(port) again
// take the HIS down and up on the same port.
import { createServer, type Server, type Socket } from 'node:net';

export interface HisMessage {
  id: string;
  key: string;
  atMs: number;
  /** Messages being answered at the moment this one arrived (itself included). */
  concurrent: number;
}

/** 'AA' | 'AR' | 'AE', or null: never answer. */
export type HisAnswer = { code: 'AA' | 'AR' | 'AE'; text?: string; delayMs?: number } | null;

export class MllpHisListener {
  readonly received: HisMessage[] = [];
  answer: (message: HisMessage) => HisAnswer = () => ({ code: 'AA' });
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private open = 0;
  port = 0;

  async listen(port = 0): Promise<number> {
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  /** Closes the listener and every connection (the HIS goes down). */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  idsOf(key?: string): string[] {
    return this.received.filter((m) => key === undefined || m.key === key).map((m) => m.id);
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\x1c\r');
        if (end < 0) return;
        const text = buffer.subarray(buffer.indexOf(0x0b) + 1, end).toString('utf8');
        buffer = buffer.subarray(end + 2);
        const segments = text.split('\r');
        const msh = segments[0]!.split('|');
        const pid = (segments.find((s) => s.startsWith('PID|')) ?? '').split('|');
        this.open++;
        const message: HisMessage = { id: msh[9] ?? '', key: pid[3] ?? '', atMs: Date.now(), concurrent: this.open };
        this.received.push(message);
        const answer = this.answer(message);
        if (answer === null) continue;
        setTimeout(() => {
          this.open--;
          const ack = `MSH|^~\\&|HIS|F|WARDLINE|H|20260101000000||ACK^S01^ACK|a${message.id}|P|2.5\rMSA|${answer.code}|${message.id}|${answer.text ?? ''}\r`;
          if (!socket.destroyed) socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(ack), Buffer.from('\x1c\r')]));
        }, answer.delayMs ?? 0);
      }
    });
  }
}
