// The InboundSink contract against the webhook sink and a real node:http
// endpoint that checks every POST's signature twice, with the standardwebhooks
// Webhook class and by hand with node:crypto as the Standard Webhooks spec
// writes it (HMAC-SHA256 over "id.timestamp.body", base64, "v1,"), refuses a
// POST that fails either, answers 409 to a webhook-id it applied before, and
// otherwise answers per a script: 200 with a reference, 422, 500, nothing, a
// dropped connection.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, SecretFileCheck } from '../../runtime/index.js';
import { createSink, loadSinkSecrets, WebhookSinkConfigSchema, type InboundSink, type WebhookPayload } from '../../agent/downlink/sinks/index.js';
import { classifyWebhookAnswer } from '../../agent/downlink/sinks/webhook-sink.js';
import { freePort } from '../support/free-port.js';
import { delivery, describeInboundSinkContract, type InboundSinkHarness, type PeerAnswer } from './inbound-sink.contract.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

/** The Standard Webhooks signature check, written from the spec without the library. */
function signatureMatches(secret: string, id: string, timestamp: string, body: string, header: string): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return header.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || signature === undefined) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

class ScriptedEndpoint {
  readonly applied = new Map<string, number>();
  readonly scripts = new Map<string, PeerAnswer>();
  readonly posts: { headers: http.IncomingHttpHeaders; payload: WebhookPayload }[] = [];
  badSignatures = 0;

  private constructor(private readonly server: http.Server) {}

  static async start(secret: string): Promise<ScriptedEndpoint> {
    let endpoint: ScriptedEndpoint;
    const server = http.createServer((req, res) => endpoint.serve(secret, req, res));
    endpoint = new ScriptedEndpoint(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return endpoint;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/wardline/inbound`;
  }

  private serve(secret: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id']);
      const timestamp = String(req.headers['webhook-timestamp']);
      const signature = String(req.headers['webhook-signature']);
      let verified = signatureMatches(secret, id, timestamp, body, signature);
      try {
        new Webhook(secret).verify(body, { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature });
      } catch {
        verified = false;
      }
      if (!verified) {
        this.badSignatures++;
        res.writeHead(401).end('bad signature');
        return;
      }
      const payload = JSON.parse(body) as WebhookPayload;
      this.posts.push({ headers: req.headers, payload });
      if (this.applied.has(id)) {
        res.writeHead(409, { 'content-type': 'text/plain' }).end('already applied');
        return;
      }
      const script = this.scripts.get(id) ?? { kind: 'accept' };
      switch (script.kind) {
        case 'accept':
          this.applied.set(id, 1);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(script.reference === undefined ? { ok: true } : { reference: script.reference }));
          break;
        case 'refuse':
          res.writeHead(422, { 'content-type': 'text/plain' }).end(script.reason);
          break;
        case 'error':
          res.writeHead(500, { 'content-type': 'text/plain' }).end('database busy');
          break;
        case 'hang':
          break;
        case 'close':
          req.socket.destroy();
          break;
      }
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function webhookSink(url: string, extra: Record<string, unknown> = {}, secret = SECRET): InboundSink {
  const config = WebhookSinkConfigSchema.parse({ kind: 'webhook', url, secretFile: 'unused', ...extra });
  return createSink(config, { hospitalId: 'h-zj-002', log: silent, secrets: { webhookSecret: secret } });
}

let endpoint: ScriptedEndpoint | undefined;

describeInboundSinkContract('webhook to a scripted endpoint', async (): Promise<InboundSinkHarness> => {
  endpoint = await ScriptedEndpoint.start(SECRET);
  const peer = endpoint;
  return {
    decidesLater: false,
    answers: new Set(['accept', 'refuse', 'error', 'hang', 'close']),
    async sink(options) {
      return webhookSink(peer.url, options?.answerTimeoutMs === undefined ? {} : { timeoutMs: options.answerTimeoutMs });
    },
    async sinkToNowhere() {
      return webhookSink(`http://127.0.0.1:${await freePort()}/`);
    },
    async answer(id, answer) {
      peer.scripts.set(id, answer);
    },
    async applied(id) {
      return peer.applied.get(id) ?? 0;
    },
    unmappable: { contentType: 'json', body: Buffer.from('{"booking": '), reason: /^the body is not JSON/ },
    async close() {
      expect(peer.badSignatures, 'every POST verified').toBe(0);
      await peer.close();
    },
  };
});

describe('webhook sink on the wire', () => {
  let peer: ScriptedEndpoint;
  beforeAll(async () => {
    peer = await ScriptedEndpoint.start(SECRET);
  });
  afterAll(async () => {
    await peer.close();
  });

  it('POSTs the spec format: webhook-id the inbound id, the JSON body as a value, ISO times', async () => {
    const sink = webhookSink(peer.url);
    try {
      const d = delivery();
      expect(await sink.deliver(d)).toEqual({ kind: 'accepted', code: 'HTTP 200' });
      const post = peer.posts.find((p) => p.headers['webhook-id'] === d.id)!;
      expect(post.headers['content-type']).toBe('application/json');
      expect(Number(post.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -2);
      expect(post.payload).toEqual({
        type: 'wardline.inbound',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        data: {
          id: d.id,
          channel: 'bookings',
          key: 'P-1001',
          vendor: 'patient-app',
          contentType: 'json',
          body: JSON.parse(d.body.toString('utf8')),
          receivedAt: new Date(d.receivedAtMs).toISOString(),
          expiresAt: new Date(d.expiresAtMs).toISOString(),
        },
      });
      const hl7 = delivery({ contentType: 'hl7v2', body: Buffer.from('MSH|^~\\&|A|B|C|D|2026||ADT^A04|1|P|2.5\r') });
      expect(await sink.deliver(hl7)).toMatchObject({ kind: 'accepted' });
      expect(peer.posts.find((p) => p.headers['webhook-id'] === hl7.id)!.payload.data.body).toBe('MSH|^~\\&|A|B|C|D|2026||ADT^A04|1|P|2.5\r');
    } finally {
      await sink.close();
    }
  });

  it('a POST signed with another secret fails the endpoint check, and its 401 waits uncounted instead of refusing the event', async () => {
    const sink = webhookSink(peer.url, {}, `whsec_${randomBytes(32).toString('base64')}`);
    try {
      const before = peer.badSignatures;
      // Every event would get the same 401: the setup is wrong, not the event, so it waits (sinkDown) and is never refused for it.
      expect(await sink.deliver(delivery())).toMatchObject({ kind: 'retryable', code: 'HTTP 401', sinkDown: true, reason: expect.stringMatching(/^bad signature .*WL_A047/) });
      expect(peer.badSignatures).toBe(before + 1);
    } finally {
      await sink.close();
    }
  });
});

describe('classifyWebhookAnswer', () => {
  it('classifies per the spec', () => {
    expect(classifyWebhookAnswer(201, '{"reference":"APT-1"}')).toEqual({ kind: 'accepted', code: 'HTTP 201', reference: 'APT-1' });
    expect(classifyWebhookAnswer(204, '')).toEqual({ kind: 'accepted', code: 'HTTP 204' });
    expect(classifyWebhookAnswer(409, 'dup')).toMatchObject({ kind: 'accepted', code: 'HTTP 409' });
    expect(classifyWebhookAnswer(422, 'x'.repeat(2000))).toMatchObject({ kind: 'refused', code: 'HTTP 422' });
    expect((classifyWebhookAnswer(400, 'y'.repeat(2000)) as { reason: string }).reason).toHaveLength(500);
    for (const status of [408, 429, 500, 503]) expect(classifyWebhookAnswer(status, '')).toMatchObject({ kind: 'retryable', sinkDown: false });
    expect(classifyWebhookAnswer(302, '')).toMatchObject({ kind: 'retryable', sinkDown: false, reason: expect.stringContaining('sink.url') });
  });
});

describe('loadSinkSecrets for a webhook', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardline-sink-'));
  const config = (file: string) => WebhookSinkConfigSchema.parse({ kind: 'webhook', url: 'https://his.example/hook', secretFile: file });

  it('reads a whsec_ secret from an owner-only file', () => {
    const file = join(dir, 'webhook.secret');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    expect(loadSinkSecrets(config(file), 'inbound[0].sink', (p) => p, 'agent.yaml', new SecretFileCheck())).toEqual({ webhookSecret: SECRET });
  });

  it('refuses a file others can read, and a secret of another form, naming the key', () => {
    const loose = join(dir, 'loose.secret');
    writeFileSync(loose, SECRET);
    chmodSync(loose, 0o644);
    expect(() => loadSinkSecrets(config(loose), 'inbound[0].sink', (p) => p, 'agent.yaml', new SecretFileCheck())).toThrow(/inbound\[0\]\.sink\.secretFile: .*chmod 600/);
    const plain = join(dir, 'plain.secret');
    writeFileSync(plain, 'hunter2', { mode: 0o600 });
    expect(() => loadSinkSecrets(config(plain), 'inbound[0].sink', (p) => p, 'agent.yaml', new SecretFileCheck())).toThrow(ConfigError);
  });
});
