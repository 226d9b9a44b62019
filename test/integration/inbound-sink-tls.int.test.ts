// The MLLP and webhook sinks over TLS, trusting only the CA file the config
// names: a certificate the test makes with openssl for 127.0.0.1, a TLS MLLP
// listener and an https endpoint; without the CA the same sinks are refused.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSink, MllpSinkConfigSchema, WebhookSinkConfigSchema } from '../../agent/downlink/sinks/index.js';
import { frameMllp, Hl7Message, MllpFramer } from '../../agent/hl7/index.js';
import { delivery } from '../contract/inbound-sink.contract.js';
import { makeTempDir } from '../support/temp-dir.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('sinks over TLS', () => {
  const dir = makeTempDir('wardline-sink-tls-');
  let key: string;
  let cert: string;
  let mllp: tls.Server;
  let web: https.Server;

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=his.test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:his.test', '-keyout', join(dir.path, 'key.pem'), '-out', join(dir.path, 'cert.pem')], { stdio: 'pipe' });
    key = readFileSync(join(dir.path, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir.path, 'cert.pem'), 'utf8');
    mllp = tls.createServer({ key, cert }, (socket) => {
      const framer = new MllpFramer();
      socket.on('error', () => undefined);
      socket.on('data', (chunk) => {
        for (const payload of framer.push(chunk)) {
          const id = Hl7Message.parse(payload.toString('utf8')).controlId;
          socket.write(frameMllp(Buffer.from(`MSH|^~\\&|HIS||||2026||ACK|A1|P|2.5\rMSA|AA|${id}\r`)));
        }
      });
    });
    web = https.createServer({ key, cert }, (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"reference":"TLS-1"}'));
    });
    await new Promise<void>((resolve) => mllp.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => mllp.close(resolve));
    web.closeAllConnections();
    await new Promise((resolve) => web.close(resolve));
    dir.remove();
  });

  it('MLLP over TLS with the CA file: accepted; without it: sinkDown naming the certificate', async () => {
    const config = MllpSinkConfigSchema.parse({ kind: 'mllp', address: `127.0.0.1:${(mllp.address() as AddressInfo).port}`, tls: { caFile: 'ca.pem' }, connectTimeoutMs: 2000 });
    const trusted = createSink(config, { hospitalId: 'h', log: silent, secrets: { caPem: cert } });
    const untrusted = createSink(config, { hospitalId: 'h', log: silent, secrets: {} });
    const hl7 = { contentType: 'hl7v2', body: Buffer.from('MSH|^~\\&|A|B|C|D|2026||ADT^A04|1|P|2.5\rPID|1||X\r') };
    try {
      expect(await trusted.deliver(delivery(hl7))).toMatchObject({ kind: 'accepted', code: 'AA' });
      expect(await untrusted.deliver(delivery(hl7))).toMatchObject({ kind: 'retryable', sinkDown: true, reason: expect.stringMatching(/certificate/i) });
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });

  it('webhook over https with the CA file: accepted with the reference; without it: sinkDown naming the certificate', async () => {
    const config = WebhookSinkConfigSchema.parse({ kind: 'webhook', url: `https://127.0.0.1:${(web.address() as AddressInfo).port}/hook`, secretFile: 'unused', tls: { caFile: 'ca.pem' } });
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const trusted = createSink(config, { hospitalId: 'h', log: silent, secrets: { webhookSecret: secret, caPem: cert } });
    const untrusted = createSink(config, { hospitalId: 'h', log: silent, secrets: { webhookSecret: secret } });
    try {
      expect(await trusted.deliver(delivery())).toEqual({ kind: 'accepted', code: 'HTTP 200', reference: 'TLS-1' });
      expect(await untrusted.deliver(delivery())).toMatchObject({ kind: 'retryable', sinkDown: true, reason: expect.stringMatching(/certificate/i) });
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });
});
