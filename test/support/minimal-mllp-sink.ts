// An InboundSink that speaks real MLLP, as little as the delivery engine's tests
// need until the agent's own MllpSink is merged beside them: one connection per
// attempt, MSH-10 = the inbound id, PID-3 = the key, MSA-1 classified (AA accepted,
// AR refused, AE retryable), a refused or reset connection sinkDown, and a body
// without the mapped field (`requiredPath`, changeable like a config fix) unmappable.
import { connect } from 'node:net';
import type { InboundSink, SinkDelivery, SinkOutcome } from '../../agent/downlink/index.js';

export class MinimalMllpSink implements InboundSink {
  readonly kind = 'mllp' as const;
  /** The body member the "mapping" needs; null = none. */
  requiredPath: string | null = 'slot';

  constructor(
    private readonly port: number,
    private readonly timeoutMs = 5_000,
  ) {}

  async deliver(delivery: SinkDelivery): Promise<SinkOutcome> {
    const body = JSON.parse(delivery.body.toString('utf8')) as Record<string, unknown>;
    if (this.requiredPath !== null && body[this.requiredPath] === undefined) return { kind: 'unmappable', reason: `the body has no ${this.requiredPath} for ARQ` };
    const message = `MSH|^~\\&|WARDLINE|H|HIS|F|20260101000000||SRM^S01^SRM_S01|${delivery.id}|P|2.5\rARQ|${delivery.id}\rPID|||${delivery.key}\r`;
    return new Promise<SinkOutcome>((resolve) => {
      const socket = connect(this.port, '127.0.0.1');
      let answered = false;
      let buffer = Buffer.alloc(0);
      const done = (outcome: SinkOutcome): void => {
        if (answered) return;
        answered = true;
        socket.destroy();
        resolve(outcome);
      };
      socket.setTimeout(this.timeoutMs, () => done({ kind: 'retryable', code: 'timeout', reason: 'no answer', sinkDown: false }));
      socket.on('connect', () => socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(message), Buffer.from('\x1c\r')])));
      socket.on('error', (error: NodeJS.ErrnoException) => done({ kind: 'retryable', code: error.code ?? 'error', reason: error.message, sinkDown: true }));
      socket.on('close', () => done({ kind: 'retryable', code: 'ECONNRESET', reason: 'closed before an answer', sinkDown: true }));
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        if (buffer.indexOf('\x1c\r') < 0) return;
        const msa = buffer.toString('utf8').split('\r').find((s) => s.startsWith('MSA|'))!.split('|');
        const code = msa[1]!;
        const text = msa[3] ?? '';
        if (code === 'AA') done({ kind: 'accepted', code });
        else if (code === 'AR') done({ kind: 'refused', code, reason: text });
        else done({ kind: 'retryable', code, reason: text, sinkDown: false });
      });
    });
  }

  async close(): Promise<void> {}
}
