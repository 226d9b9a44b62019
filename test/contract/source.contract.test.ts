// Every kind of source, over its real wire, against the one Source contract.
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AgentHttpServer } from '../../agent/http/agent-http-server.js';
import { mergeMapping } from '../../agent/hl7/index.js';
import { HttpIngestSource, MllpListener } from '../../agent/sources/index.js';
import { LocalCopy, openAgentDatabase } from '../../agent/store/index.js';
import { MllpSender } from '../../simulator/mllp-sender.js';
import { makeTempDir } from '../support/temp-dir.js';
import { describeSourceContract } from './source.contract.js';

const log = pino({ level: 'silent' });

describeSourceContract('MLLP listener (real socket, simulator MllpSender)', async (parts) => {
  const source = new MllpListener({ name: 'lis-mllp', host: '127.0.0.1', port: 0, mapping: mergeMapping([]), log, ...parts });
  const { port } = await source.start();
  const sender = new MllpSender({ host: '127.0.0.1', port, maxAttempts: 1, ackTimeoutMs: 10_000 });
  let n = 0;
  return {
    source,
    async send(key) {
      const controlId = `CTRL-${++n}`;
      const message = [`MSH|^~\\&|HIS|HOSP|WARDLINE|AGENT|20240105083000||ADT^A01^ADT_A01|${controlId}|P|2.5`, 'EVN|A01|20240105083000', `PID|1||${key}^^^HOSP^MR||Zhang^San||19900307|M`, ''].join('\r');
      const ack = await sender.send(Buffer.from(message, 'utf8'), controlId);
      return { accepted: ack.code === 'AA', code: ack.code, text: ack.text };
    },
    async close() {
      await sender.close();
      await source.stop();
    },
  };
});

describeSourceContract('HTTP ingest (real HTTP through the agent HTTP server)', async (parts) => {
  // The records route needs a local copy; the ingest writes through the writer under test.
  const dir = makeTempDir('wardline-http-source-');
  const db = openAgentDatabase(`${dir.path}/records.db`);
  const source = new HttpIngestSource({ localCopy: new LocalCopy(db), log, ...parts });
  const server = new AgentHttpServer({ host: '127.0.0.1', port: 0, ingest: source, status: () => ({}), metrics: new Registry(), log });
  const { port } = (await server.start()) as AddressInfo;
  await source.start();
  return {
    source,
    async send(key) {
      const response = await fetch(`http://127.0.0.1:${port}/v1/ingest/patients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ key, name: 'Zhang San' }]) });
      const text = await response.text();
      return { accepted: response.status === 200, code: String(response.status), text };
    },
    async close() {
      await source.stop();
      await server.stop();
      db.close();
      dir.remove();
    },
  };
});
