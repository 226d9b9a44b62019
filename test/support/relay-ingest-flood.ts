// Opens `count` Replicate streams to a relay and never says Hello on them; run
// as its own process (node dist/test/support/relay-ingest-flood.js <address>
// <count>) so the flood's client work does not slow the test that measures the
// relay. Prints one JSON line when every stream has ended or after `maxMs`:
// how each ended (gRPC code, Wardline code, milliseconds after the first opened).
import * as grpc from '@grpc/grpc-js';
import { ReplicationService, type AgentMessage, type RelayMessage } from '../../protocol/index.js';

export interface FloodEnd {
  code: number;
  wardline: string;
  atMs: number;
}

export interface FloodReport {
  opened: number;
  /** Milliseconds the client took to start every call. */
  openedMs: number;
  ended: FloodEnd[];
}

export function flood(address: string, count: number, maxMs: number): Promise<FloodReport> {
  const Client = grpc.makeGenericClientConstructor(ReplicationService, 'Replication');
  const client = new Client(address, grpc.credentials.createInsecure());
  const started = performance.now();
  const ended: FloodEnd[] = [];
  return new Promise((resolve) => {
    let openedMs = 0;
    const finish = () => {
      clearTimeout(timer);
      for (const call of calls) call.cancel();
      client.close();
      resolve({ opened: count, openedMs, ended });
    };
    const timer = setTimeout(finish, maxMs);
    const calls = Array.from({ length: count }, () => {
      const call = (client as unknown as { replicate(): grpc.ClientDuplexStream<AgentMessage, RelayMessage> }).replicate();
      call.on('error', () => {});
      call.on('status', (status: grpc.StatusObject) => {
        ended.push({ code: status.code, wardline: String(status.metadata.get('wardline-error-code')[0] ?? ''), atMs: performance.now() - started });
        if (ended.length === count) finish();
      });
      return call;
    });
    openedMs = performance.now() - started;
  });
}

if (process.argv[1]?.endsWith('relay-ingest-flood.js')) {
  const [address, count, maxMs] = process.argv.slice(2);
  void flood(address!, Number(count), Number(maxMs)).then((report) => {
    // Exit only once the line is flushed: a pipe's write is asynchronous.
    process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
  });
}
