// A JetStream stream of the test's own on the machine's NATS server
// (127.0.0.1:4222; WARDLINE_TEST_NATS_URL overrides), created with a unique
// name and subject prefix and deleted at the end, and a plain consumer that
// reads it back as a vendor would.
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export const TEST_NATS_URL = process.env.WARDLINE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export interface ReadMessage {
  subject: string;
  streamSeq: number;
  messageId: string | undefined;
  headers: Record<string, string>;
  payload: string;
}

export interface NatsTestStream {
  /** The stream's name, e.g. WARDLINE_TEST_1A2B3C. */
  name: string;
  /** The subject prefix the stream captures (`${prefix}.>`). */
  prefix: string;
  connection: NatsConnection;
  /** Messages the stream holds. */
  messages(): Promise<number>;
  /** Every message from the first, in stream order, read by an ordinary durable pull consumer. */
  readAll(): Promise<ReadMessage[]>;
  delete(): Promise<void>;
}

/** Creates the stream; duplicateWindowMs short, so an outage can outlive it in a test. */
export async function createNatsTestStream(label: string, duplicateWindowMs: number): Promise<NatsTestStream> {
  const suffix = randomBytes(4).toString('hex');
  const name = `WARDLINE_TEST_${label.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${suffix}`;
  const prefix = `wltest_${suffix}`;
  const connection = await connect({ servers: TEST_NATS_URL });
  const jsm = await jetstreamManager(connection);
  await jsm.streams.add({ name, subjects: [`${prefix}.>`], duplicate_window: duplicateWindowMs * 1_000_000 });
  return {
    name,
    prefix,
    connection,
    messages: async () => (await jsm.streams.info(name)).state.messages,
    async readAll() {
      const total = (await jsm.streams.info(name)).state.messages;
      const durable = `reader_${randomBytes(3).toString('hex')}`;
      await jsm.consumers.add(name, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
      const consumer = await jetstream(connection).consumers.get(name, durable);
      const read: ReadMessage[] = [];
      while (read.length < total) {
        const batch = await consumer.fetch({ max_messages: Math.min(1_000, total - read.length), expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          const headers: Record<string, string> = {};
          for (const [k, v] of m.headers ?? []) headers[k] = v[0] ?? '';
          read.push({ subject: m.subject, streamSeq: m.seq, messageId: m.headers?.get('Nats-Msg-Id') || undefined, headers, payload: m.string() });
          m.ack();
          got += 1;
        }
        if (got === 0) break;
      }
      await jsm.consumers.delete(name, durable);
      return read;
    },
    async delete() {
      await jsm.streams.delete(name).catch(() => undefined);
      await connection.close();
    },
  };
}
