// The ceiling of the MLLP load itself: an endpoint in a child process that answers
// every frame with an AA at once, storing nothing. The same senders against it
// show how many messages/s the closed loop (one message in flight per connection,
// as HL7 original mode requires) can carry on this machine at all, whatever the
// receiver does; the agent's MLLP figure is read against it.
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const START = 0x0b;
const END = Buffer.from([0x1c, 0x0d]);

/** MSH-10 of a frame (field 10, counting MSH-1 as the separator itself). */
function controlIdOf(frame: string): string {
  const cr = frame.indexOf('\r');
  const msh = cr < 0 ? frame : frame.slice(0, cr);
  return msh.split(msh[3] ?? '|')[9] ?? '';
}

function serve(): void {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (let end = pending.indexOf(END); end >= 0; end = pending.indexOf(END)) {
        const start = pending.indexOf(START);
        const id = controlIdOf(pending.subarray(start + 1, end).toString('latin1'));
        pending = pending.subarray(end + END.length);
        socket.write(`\x0bMSH|^~\\&|ECHO|BENCH|||20260101000000||ACK|${id}|P|2.5\rMSA|AA|${id}\r\x1c\r`);
      }
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as net.AddressInfo).port));
}

export class MllpEcho {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<MllpEcho> {
    const child = fork(fileURLToPath(import.meta.url), ['serve'], { stdio: 'ignore' });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message) => resolve(Number(message)));
      child.once('exit', (code) => reject(new Error(`the MLLP echo process exited (${code}) before listening`)));
    });
    return new MllpEcho(child, port);
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

if (process.argv[2] === 'serve' && process.send) serve();
