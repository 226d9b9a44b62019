// The pure parts of the robot and email sinks: the link error's kind, the
// robots' refusal answers, the Chinese alert lines, the byte limit, the config.
import { describe, expect, it } from 'vitest';
import { linkErrorKind } from '../../agent/replication/index.js';
import { ALERT_RULES, AlertsConfigSchema, alertMessage, alertNotice, noticeText } from '../../agent/operations/alerts/index.js';
import { errcodeRefusal, feishuRefusal } from '../../agent/operations/alerts/robot-answer.js';
import { truncateUtf8 } from '../../agent/operations/alerts/alert-notice.js';
import { dingtalkSign } from '../../agent/operations/alerts/dingtalk-sink.js';
import { feishuSign } from '../../agent/operations/alerts/feishu-sink.js';

describe('linkErrorKind', () => {
  it.each([
    ['14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 10.0.0.7:7443', 'refused'],
    ['cannot reach relay at 10.0.0.7:7443: connection refused', 'refused'],
    ['cannot reach relay at 10.0.0.7:7443: no answer within 5000 ms (relays[].connectTimeoutMs)', 'timeout'],
    ['Failed to connect before the deadline', 'timeout'],
    ['getaddrinfo ENOTFOUND relay.example', 'dns'],
    ['connect EHOSTUNREACH 10.0.0.7:7443', 'unreachable'],
    ['read ECONNRESET', 'reset'],
    ['cannot connect to relay at r:7443: the relay\'s certificate is signed by a CA not in relays[0].tls.caFile', 'tls'],
    ['16 UNAUTHENTICATED: unknown agent or wrong secret', 'rejected'],
    ['cannot reach relay at 10.0.0.7:7443: the connection failed', 'connect-failed'],
    ['reconnect requested by operator', 'stopped'],
    ['something new', 'other'],
  ])('%s → %s', (message, kind) => {
    expect(linkErrorKind(message)).toBe(kind);
  });
});

describe('robot answers', () => {
  it('reads errcode (WeCom, DingTalk) and code / StatusCode (Feishu)', () => {
    expect(errcodeRefusal('{"errcode":0,"errmsg":"ok"}')).toBeUndefined();
    expect(errcodeRefusal('{"errcode":310000,"errmsg":"sign not match"}')).toBe('errcode 310000: sign not match');
    expect(errcodeRefusal('<html>gateway</html>')).toMatch(/^unexpected answer/);
    expect(feishuRefusal('{"code":0,"msg":"success","data":{}}')).toBeUndefined();
    expect(feishuRefusal('{"StatusCode":0,"StatusMessage":"success"}')).toBeUndefined();
    expect(feishuRefusal('{"code":19021,"msg":"sign match fail"}')).toBe('code 19021: sign match fail');
    expect(feishuRefusal('{}')).toMatch(/^unexpected answer/);
  });

  it('signs as the robots document', () => {
    // Fixed vectors computed outside Node with Python's hmac, from each robot's documented recipe:
    // DingTalk base64(HMAC-SHA256(key=secret, msg="<ms>\n<secret>")); Feishu base64(HMAC-SHA256(key="<s>\n<secret>", msg="")).
    expect(dingtalkSign(1577262236757, 'SECxxx')).toBe('TajHYUQC5a6smO3qjKNgFiJalsQ51g5gqH0iiy2oY+o=');
    expect(feishuSign(1599360473, 'demo')).toBe('l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=');
  });
});

describe('alert texts in Chinese', () => {
  const base = { subject: 'clinical', level: 1, previousLevel: 0, value: 720, threshold: 300 };
  it('has a line for every rule, firing and resolved, none saying 出院', () => {
    for (const rule of ALERT_RULES) {
      for (const level of [0, 1]) {
        const text = alertMessage({ ...base, rule, level, details: { state: 'backoff', lastError: 'connect ECONNREFUSED', lastErrorKind: 'refused', relayMarkSeq: 9, journalHeadSeq: 7 } }, 'zh');
        expect(text).not.toMatch(/出院|undefined/);
        expect(text).toMatch(/[\u4e00-\u9fff]/);
      }
    }
    expect(alertMessage({ ...base, rule: 'lag', details: {} }, 'zh')).toBe('推送 clinical 落后 12 分钟（阈值 5 分钟）');
    expect(alertMessage({ ...base, rule: 'link', subject: 'cloud', value: null, threshold: null, details: { state: 'backoff', lastError: 'connect ECONNREFUSED 10.0.0.7:7443', lastErrorKind: 'refused' } }, 'zh'))
      .toBe('与中继 cloud 的连接中断：等待重试；最近错误：连接被拒绝（中继未在该端口监听）（connect ECONNREFUSED 10.0.0.7:7443）');
    expect(alertMessage({ ...base, rule: 'feed-integrity', details: { relayMarkSeq: 9, journalHeadSeq: 7 } }, 'zh')).toContain('本地数据日志末尾 7');
  });

  it('keeps the English line the record has always carried', () => {
    expect(alertMessage({ ...base, rule: 'lag', details: {} })).toBe('feed clinical is 12 min behind (threshold 5 min)');
  });

  it('makes a notice with title, line and facts', () => {
    const alert = { id: 3, atMs: 0, rule: 'source-silent' as const, subject: 'lis', level: 1, previousLevel: 0, state: 'firing' as const, severity: 'warning' as const, message: '', value: 90, threshold: 60, details: {} };
    const text = noticeText(alertNotice(alert, { hospital: 'H', agentId: 'a' }, 'zh'), 'zh');
    expect(text.split('\n').slice(0, 4)).toEqual(['【警告】来源静默 · lis', '来源 lis 已静默 90 秒（静默阈值 60 秒）', '医院：H', '网关：a']);
  });
});

describe('truncateUtf8', () => {
  it('cuts on a character boundary within the byte limit', () => {
    const text = '连接中断'.repeat(400);
    const cut = truncateUtf8(text, 2048);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(2048);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut).not.toContain('\ufffd');
    expect(truncateUtf8('short', 2048)).toBe('short');
  });
});

describe('alerts config for robots and email', () => {
  it('defaults the robots to Chinese and markdown, email to STARTTLS on 587', () => {
    const c = AlertsConfigSchema.parse({
      wecom: { url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k' },
      dingtalk: { url: 'https://oapi.dingtalk.com/robot/send?access_token=t' },
      feishu: { url: 'https://open.feishu.cn/open-apis/bot/v2/hook/h' },
      email: { host: 'mail.hospital', from: 'w@h', to: ['duty@h'] },
    });
    expect(c.wecom).toMatchObject({ msgtype: 'markdown', language: 'zh', attempts: 3, timeoutMs: 5000 });
    expect(c.dingtalk).toMatchObject({ msgtype: 'markdown', language: 'zh', atMobiles: [] });
    expect(c.feishu).toMatchObject({ msgtype: 'post', language: 'zh' });
    expect(c.email).toMatchObject({ port: 587, security: 'starttls', language: 'zh', subjectPrefix: '[Wardline]' });
  });

  it('refuses a username without a password file, and a robot address that is not http(s)', () => {
    const email = AlertsConfigSchema.safeParse({ email: { host: 'm', from: 'w@h', to: ['d@h'], username: 'u' } });
    expect(email.success).toBe(false);
    expect(email.error!.issues[0]).toMatchObject({ path: ['email', 'passwordFile'] });
    const robot = AlertsConfigSchema.safeParse({ dingtalk: { url: 'ftp://x' } });
    expect(robot.error!.issues[0]!.message).toMatch(/http:\/\/ or https:\/\//);
  });
});
