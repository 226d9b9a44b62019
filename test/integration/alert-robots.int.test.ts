// Alerts from a real agent to the places Chinese hospitals look: a 企业微信
// group robot, a 钉钉 custom robot with 加签, a 飞书 bot with 签名校验 (each a
// real HTTP server on 127.0.0.1:0 that checks the documented request and
// answers as the robot does) and a mailbox behind a real SMTP server. The
// signatures are recomputed here from the robots' documented algorithms, not
// from the agent's code. DingTalk and Feishu refuse the first message the way
// they do (HTTP 200, errcode / code ≠ 0): the agent must count it failed and
// try again.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { createCertificateAuthority, issueServerCertificate } from '../../cloud-relay/index.js';
import { AlertDelivery, EmailSink, WecomSink, type AlertRecord } from '../../agent/operations/alerts/index.js';
import { alertingAgentYaml } from '../support/alerting-agent-yaml.js';
import { readMail, type ReceivedMail } from '../support/mime-text.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

interface Received {
  method: string;
  url: URL;
  contentType: string | undefined;
  body: Record<string, any>;
  atMs: number;
}

/** An HTTP server that records each request and answers with `answer(n)` (n counts from 0). */
async function robotServer(answer: (n: number) => object): Promise<{ server: Server; port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const n = received.length;
      received.push({ method: req.method!, url: new URL(req.url!, 'http://robot'), contentType: req.headers['content-type'], body: JSON.parse(text), atMs: Date.now() });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(n)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, received };
}

interface Mailbox {
  server: SMTPServer;
  port: number;
  mails: { from: string; to: string[]; user: string | undefined; mail: ReceivedMail }[];
}

/** A real SMTP server that wants a login, offers no STARTTLS, and keeps what it receives. */
async function mailbox(user: string, pass: string): Promise<Mailbox> {
  const mails: Mailbox['mails'] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === pass) callback(null, { user: auth.username });
      else callback(new Error('535 5.7.8 authentication failed'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        mails.push({ from, to: session.envelope.rcptTo.map((r) => r.address), user: session.user as string | undefined, mail: readMail(Buffer.concat(chunks).toString('utf8')) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.server.address() as AddressInfo).port, mails };
}

/** DingTalk's documented signature: urlencode(base64(HmacSHA256(key = secret, data = timestamp + "\n" + secret))). */
function expectedDingtalkSign(timestamp: string, secret: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(`${timestamp}\n${secret}`, 'utf8')).digest().toString('base64');
}

/** Feishu's documented signature: base64(HmacSHA256(key = timestamp + "\n" + secret, data = "")). */
function expectedFeishuSign(timestamp: string, secret: string): string {
  return createHmac('sha256', Buffer.from(`${timestamp}\n${secret}`, 'utf8')).update(Buffer.alloc(0)).digest().toString('base64');
}

const DINGTALK_SECRET = 'SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab';
const FEISHU_SECRET = 'feishu-signing-secret-9f8e7d';

describe('alerts to WeCom, DingTalk, Feishu and email', () => {
  const dir = makeTempDir('wardline-robots-');
  let wecom: Awaited<ReturnType<typeof robotServer>>;
  let dingtalk: Awaited<ReturnType<typeof robotServer>>;
  let feishu: Awaited<ReturnType<typeof robotServer>>;
  let mail: Mailbox;
  let agent: RunningAgent | undefined;

  beforeAll(async () => {
    wecom = await robotServer(() => ({ errcode: 0, errmsg: 'ok' }));
    // The robots' rate-limit answers: HTTP 200, the refusal in the body.
    dingtalk = await robotServer((n) => (n === 0 ? { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' } : { errcode: 0, errmsg: 'ok' }));
    feishu = await robotServer((n) => (n === 0 ? { code: 11232, msg: 'frequency limited psm[lark.oapi.app_platform_runtime]appID[1]', data: {} } : { code: 0, msg: 'success', data: {} }));
    mail = await mailbox('wardline@hospital.example', 'mail-pass-0451');

    writeFileSync(join(dir.path, 'dingtalk.secret'), `${DINGTALK_SECRET}\n`, { mode: 0o600 });
    writeFileSync(join(dir.path, 'feishu.secret'), `${FEISHU_SECRET}\n`, { mode: 0o600 });
    writeFileSync(join(dir.path, 'smtp.password'), 'mail-pass-0451\n', { mode: 0o600 });
    const configFile = join(dir.path, 'agent.yaml');
    writeFileSync(
      configFile,
      await alertingAgentYaml(
        'robot-hospital',
        `  wecom: { url: "http://127.0.0.1:${wecom.port}/cgi-bin/webhook/send?key=wecom-key-693a91" }
  dingtalk: { url: "http://127.0.0.1:${dingtalk.port}/robot/send?access_token=ding-token-5c1f", secretFile: dingtalk.secret, atMobiles: ["13800000000"] }
  feishu: { url: "http://127.0.0.1:${feishu.port}/open-apis/bot/v2/hook/feishu-hook-77e2", secretFile: feishu.secret }
  email:
    host: 127.0.0.1
    port: ${mail.port}
    security: none
    username: wardline@hospital.example
    passwordFile: smtp.password
    from: "Wardline <wardline@hospital.example>"
    to: [xxk-duty@hospital.example, it-oncall@hospital.example]`,
      ),
    );
    agent = await startAgent(configFile, { logger: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await agent?.stop();
    wecom?.server.close();
    dingtalk?.server.close();
    feishu?.server.close();
    await new Promise<void>((resolve) => (mail ? mail.server.close(() => resolve()) : resolve()));
    dir.remove();
  });

  it('delivers "link lost" and "source silent" to every robot and mailbox in Chinese, in each documented format', async () => {
    await until('two alerts firing', () => agent!.status(), (s) => (s.alerts?.active.length ?? 0) === 2);
    // DingTalk and Feishu: two alerts, the first refused once and tried again.
    await until(
      'every sink delivered both',
      () => ({ wecom: wecom.received.length, dingtalk: dingtalk.received.length, feishu: feishu.received.length, mail: mail.mails.length }),
      (n) => n.wecom === 2 && n.dingtalk === 3 && n.feishu === 3 && n.mail === 2,
      { timeoutMs: 30_000 },
    );
    const link = agent!.status().alerts!.active.find((a) => a.rule === 'link')!;

    // 企业微信: POST to the robot's address with its key, msgtype markdown.
    const w = wecom.received.find((r) => r.body.markdown?.content.includes('云端连接'))!;
    expect(w.method).toBe('POST');
    expect(w.url.pathname).toBe('/cgi-bin/webhook/send');
    expect(w.url.searchParams.get('key')).toBe('wecom-key-693a91');
    expect(w.contentType).toBe('application/json; charset=utf-8');
    expect(Object.keys(w.body).sort()).toEqual(['markdown', 'msgtype']);
    expect(w.body.msgtype).toBe('markdown');
    expect(Object.keys(w.body.markdown)).toEqual(['content']);
    expect(w.body.markdown.content).toMatch(/^### 【严重】云端连接 · cloud\n\n> 与中继 cloud 的连接中断：(等待重试|连接中)；最近错误：(连接被拒绝（中继未在该端口监听）|无法连接中继)（[^）]*127\.0\.0\.1[^）]*）\n/);
    expect(w.body.markdown.content).toContain('**医院**：robot-hospital');
    expect(w.body.markdown.content).toContain(`**告警编号**：${link.id}`);
    expect(Buffer.byteLength(w.body.markdown.content)).toBeLessThanOrEqual(4096);

    // 钉钉: access_token kept, timestamp + sign added; the sign recomputed from the documented algorithm.
    for (const d of dingtalk.received) {
      expect(d.method).toBe('POST');
      expect(d.url.pathname).toBe('/robot/send');
      expect(d.url.searchParams.get('access_token')).toBe('ding-token-5c1f');
      const timestamp = d.url.searchParams.get('timestamp')!;
      expect(timestamp).toMatch(/^\d{13}$/);
      expect(Math.abs(Number(timestamp) - d.atMs)).toBeLessThan(60_000);
      // URLSearchParams has already undone the URL encoding the robot's server undoes.
      expect(d.url.searchParams.get('sign')).toBe(expectedDingtalkSign(timestamp, DINGTALK_SECRET));
      expect(Object.keys(d.body).sort()).toEqual(['at', 'markdown', 'msgtype']);
      expect(d.body.msgtype).toBe('markdown');
      expect(Object.keys(d.body.markdown).sort()).toEqual(['text', 'title']);
      expect(d.body.at).toEqual({ atMobiles: ['13800000000'], isAtAll: false });
      expect(d.body.markdown.text).toMatch(/\n\n@13800000000$/);
    }
    // The refused message and its retry are the same alert, each signed afresh.
    expect(dingtalk.received[1]!.body).toEqual(dingtalk.received[0]!.body);
    expect(dingtalk.received[0]!.body.markdown.title).toMatch(/^【(严重|警告)】(云端连接 · cloud|来源静默 · lis)$/);
    expect(dingtalk.received[1]!.atMs - dingtalk.received[0]!.atMs).toBeGreaterThanOrEqual(900);

    // 飞书: timestamp (seconds, a string) and sign in the body; msg_type post with a zh_cn title.
    for (const f of feishu.received) {
      expect(f.method).toBe('POST');
      expect(f.url.pathname).toBe('/open-apis/bot/v2/hook/feishu-hook-77e2');
      expect(Object.keys(f.body).sort()).toEqual(['content', 'msg_type', 'sign', 'timestamp']);
      expect(f.body.timestamp).toMatch(/^\d{10}$/);
      expect(Math.abs(Number(f.body.timestamp) * 1000 - f.atMs)).toBeLessThan(60_000);
      expect(f.body.sign).toBe(expectedFeishuSign(f.body.timestamp, FEISHU_SECRET));
      expect(f.body.msg_type).toBe('post');
      expect(Object.keys(f.body.content.post)).toEqual(['zh_cn']);
      for (const line of f.body.content.post.zh_cn.content) expect(line).toEqual([{ tag: 'text', text: expect.any(String) }]);
    }
    const silent = feishu.received.find((f) => f.body.content.post.zh_cn.title === '【警告】来源静默 · lis')!;
    expect(silent.body.content.post.zh_cn.content[0][0].text).toMatch(/^来源 lis 已静默 \d+ 秒（静默阈值 2 秒）$/);

    // Email: logged in, to both recipients, subject and body in Chinese.
    const m = mail.mails.find((x) => x.mail.headers.get('subject')!.includes('云端连接'))!;
    expect(m.user).toBe('wardline@hospital.example');
    expect(m.from).toBe('wardline@hospital.example');
    expect(m.to).toEqual(['xxk-duty@hospital.example', 'it-oncall@hospital.example']);
    expect(m.mail.headers.get('subject')).toBe('[Wardline] 【严重】云端连接 · cloud');
    expect(m.mail.headers.get('to')).toBe('xxk-duty@hospital.example, it-oncall@hospital.example');
    expect(m.mail.text).toMatch(/^【严重】云端连接 · cloud\n与中继 cloud 的连接中断：/);
    expect(m.mail.text).toContain('医院：robot-hospital\n网关：');
    expect(m.mail.text).not.toContain('出院');

    // What /v1/status says about each sink: a refusal retried into a delivery is not a failed alert.
    const delivery = agent!.status().alerts!.delivery;
    expect(delivery.map((d) => d.sink)).toEqual(['wecom', 'dingtalk', 'feishu', 'email']);
    for (const d of delivery) expect(d).toMatchObject({ delivered: 2, failed: 0, dropped: 0, queued: 0, lastError: null });
  });
});

describe('a robot or mail server that keeps refusing', () => {
  const alert: AlertRecord = {
    id: 7, atMs: Date.UTC(2026, 11, 2, 1, 0, 0), rule: 'lag', subject: 'clinical', level: 1, previousLevel: 0, state: 'firing', severity: 'warning',
    message: 'feed clinical is 12 min behind (threshold 5 min)', value: 720, threshold: 300, details: {},
  };
  const agent = { hospital: 'h1', agentId: 'agent-1' };
  const log = { warn: () => undefined, info: () => undefined };

  it('counts a WeCom errcode answer as failed after every try, with the errmsg and without the key', async () => {
    const wecom = await robotServer(() => ({ errcode: 93000, errmsg: 'invalid webhook url, hint: [1733100000_abc]' }));
    try {
      const sink = new WecomSink({ url: `http://127.0.0.1:${wecom.port}/cgi-bin/webhook/send?key=never-shown`, msgtype: 'text', mentionMobiles: ['@all'], language: 'en', timeoutMs: 2_000, attempts: 2, agent, sleep: async () => undefined });
      const delivery = new AlertDelivery(sink, log);
      delivery.enqueue(alert);
      await delivery.flush();
      expect(wecom.received).toHaveLength(2);
      expect(wecom.received[0]!.body).toEqual({
        msgtype: 'text',
        text: { content: expect.stringMatching(/^\[WARNING\] Feed lag: clinical\nfeed clinical is 12 min behind \(threshold 5 min\)\nHospital: h1\nAgent: agent-1\nTime: 2026-12-02 \d\d:00:00 [+-]\d\d:\d\d\nAlert id: 7$/), mentioned_mobile_list: ['@all'] },
      });
      const status = delivery.status();
      expect(status).toMatchObject({ sink: 'wecom', delivered: 0, failed: 1 });
      expect(status.lastError).toBe(`errcode 93000: invalid webhook url, hint: [1733100000_abc] from http://127.0.0.1:${wecom.port}/cgi-bin/webhook/send`);
      await delivery.close();
    } finally {
      wecom.server.close();
    }
  });

  it('upgrades with STARTTLS, verifying the server against the configured CA, before logging in', async () => {
    const pki = makeTempDir('wardline-smtp-pki-');
    await createCertificateAuthority(join(pki.path, 'ca'));
    await issueServerCertificate(join(pki.path, 'ca'), join(pki.path, 'mail'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const received: { secure: boolean; user: unknown; mail: ReceivedMail }[] = [];
    const server = new SMTPServer({
      key: readFileSync(join(pki.path, 'mail', 'server.key')),
      cert: readFileSync(join(pki.path, 'mail', 'server.crt')),
      // Login only after the upgrade (smtp-server's default): a client that skipped STARTTLS could not log in.
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth: (auth, _session, callback) => callback(auth.password === 'p' ? null : new Error('535 bad login'), { user: auth.username }),
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({ secure: session.secure, user: session.user, mail: readMail(Buffer.concat(chunks).toString('utf8')) });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.server.address() as AddressInfo).port;
      const ca = readFileSync(join(pki.path, 'ca', 'ca.crt'), 'utf8');
      const sink = new EmailSink({ host: '127.0.0.1', port, security: 'starttls', ca, auth: { user: 'u', pass: 'p' }, from: 'a@h.example', to: ['b@h.example'], subjectPrefix: '[Wardline]', language: 'en', timeoutMs: 5_000, attempts: 1, agent });
      await sink.deliver(alert);
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ secure: true, user: 'u' });
      expect(received[0]!.mail.headers.get('subject')).toBe('[Wardline] [WARNING] Feed lag: clinical');
      expect(received[0]!.mail.text).toMatch(/^\[WARNING\] Feed lag: clinical\nfeed clinical is 12 min behind \(threshold 5 min\)\nHospital: h1\n/);
      await sink.close();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      pki.remove();
    }
  });

  it('refuses to send mail in clear when STARTTLS is required and the server does not offer it', async () => {
    const box = await mailbox('u', 'p');
    try {
      const sink = new EmailSink({ host: '127.0.0.1', port: box.port, security: 'starttls', auth: { user: 'u', pass: 'p' }, from: 'a@h.example', to: ['b@h.example'], subjectPrefix: '', language: 'zh', timeoutMs: 5_000, attempts: 1, agent });
      await expect(sink.deliver(alert)).rejects.toThrow(/STARTTLS/i);
      expect(box.mails).toHaveLength(0);
      await sink.close();
    } finally {
      await new Promise<void>((resolve) => box.server.close(() => resolve()));
    }
  });
});
